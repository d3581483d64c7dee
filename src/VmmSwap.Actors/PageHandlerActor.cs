using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Native;

namespace VmmSwap.Actors;

/// <summary>
/// The only owner of the page state (<see cref="PageHandler"/>): serves fault and remove batches,
/// plans the move to staging and runs job chunks, one message at a time, on the fault pump thread.
/// Faults come first (see <see cref="PageHandlerMailbox"/>). It never lets an exception escape a
/// message: the page state must survive any single failure, so failures become replies.
/// </summary>
internal sealed class PageHandlerActor : ReceiveActor
{
    private readonly GuestMemory _guest;
    private readonly VmmSwapOptions _options;
    private readonly IActorRef _supervisor;
    private readonly IActorRef _pool;

    // One worker, not the pool: replies to one asker keep their order.
    private readonly IActorRef _statusWorker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<(Userfaultfd Uffd, ulong Address)> _deferred = [];

    // Faults that failed: their threads wait until Disable has brought every page back (then
    // they are woken) or the next Enable retries them. See docs/RELIABILITY.md.
    private readonly List<(Userfaultfd Uffd, ulong Address)> _failed = [];
    private readonly GuestRegistrations _registrations;

    // Userfaultfds checked while disabled, for the next Enable to register.
    private readonly List<Userfaultfd> _checked = [];
    private PageHandler? _handler;
    private readonly SwapInDriver _swapIns;
    private TrimContext? _trim;
    private IActorRef? _trimJob;

    // The swap-out or trim work a job chunk waits for (swap-in reads are the driver's).
    private PageWork? _inFlight;
    private Userfaultfd? _mainUffd;
    private bool _flushScheduled;
    private int _batchesOutstanding;
    private long _stagedPages;
    private SwapFailure? _stagingError;
    private Stopwatch _stagingClock = new();

    public PageHandlerActor(GuestMemory guest, VmmSwapOptions options, IActorRef supervisor, IActorRef pool, IActorRef statusWorker)
    {
        _guest = guest;
        _options = options;
        _supervisor = supervisor;
        _pool = pool;
        _statusWorker = statusWorker;
        _swapIns = new SwapInDriver(options, pool, Self);
        _registrations = new GuestRegistrations(guest.Regions);
        Receive<UffdEventBatch>(Handle);
        Receive<RetryDeferredFaults>(_ => RetryDeferred());
        Receive<FlushServed>(_ =>
        {
            _flushScheduled = false;
            _handler?.FlushServed();
        });
        Receive<AttachUffd>(Handle);
        Receive<StartEnable>(Handle);
        Receive<BatchDone>(Handle);
        Receive<RunChunk>(Handle);
        Receive<ContinueSwapIn>(m => _swapIns.Steps(_mainUffd!, m.Job, m.Pages));
        Receive<WorkDone>(Handle);
        Receive<EndJob>(m => EndJob(m.Kind));
        Receive<FinishDisable>(Handle);
        Receive<ReportStatus>(Handle);
    }

    public static Props Props(GuestMemory guest, VmmSwapOptions options, IActorRef supervisor, IActorRef pool, IActorRef statusWorker) =>
        Akka.Actor.Props.Create(() => new PageHandlerActor(guest, options, supervisor, pool, statusWorker))
            .WithDispatcher(VmmSwapConfig.FaultPumpDispatcher)
            .WithMailbox(VmmSwapConfig.PageHandlerMailbox);

    /// <summary>
    /// Stopped without Exit (a system shutdown, a PoisonPill): pages outside the guest exist only in
    /// this actor's staging and swap file, so bring every one back before dropping them. The
    /// supervisor closes the userfaultfds only after this has run.
    /// </summary>
    protected override void PostStop()
    {
        // A page worker may still be reading staging or a buffer: cancel its work or let it finish
        // before the memory goes; if it will not finish, leak the memory rather than crash under it.
        var unfinished = new List<PageWork>(_swapIns.Unfinished);
        if (_inFlight is { } inFlight)
        {
            unfinished.Add(inFlight);
        }

        var safe = true;
        foreach (var work in unfinished)
        {
            safe &= work.CancelOrWait(TimeSpan.FromSeconds(30));
        }

        if (!safe)
        {
            _log.Error("a page worker is still running after 30 s; its memory is left mapped");
        }

        if (_handler is not null && _mainUffd is not null)
        {
            try
            {
                SwapInEverything();
                _log.Info("stopped while enabled: every page was swapped back in first");
            }
            catch (Exception error)
            {
                _log.Error(error, "stopped while enabled and could not swap every page back in");
            }
        }

        if (safe)
        {
            _swapIns.Close(TimeSpan.Zero);
            _handler?.Dispose();
        }
    }

    // Runs on the pump thread, which reads no events meanwhile: read them here when the kernel defers a copy.
    private void SwapInEverything()
    {
        using var swapIn = _handler!.StartSwapIn();
        Span<UffdEvent> buffer = stackalloc UffdEvent[64];
        while (true)
        {
            try
            {
                if (swapIn.SwapIn(_mainUffd!, _options.SwapChunkBytes) == 0)
                {
                    break;
                }
            }
            catch (UffdRetryException)
            {
                foreach (var uffd in _registrations.Registered.ToArray())
                {
                    int n;
                    while ((n = uffd.ReadEvents(buffer)) > 0)
                    {
                        Handle(new UffdEventBatch(uffd, buffer[..n].ToArray()));
                    }
                }
            }
        }

        UnregisterAll();
    }

    private void Handle(UffdEventBatch batch)
    {
        foreach (var e in batch.Events)
        {
            switch (e.Kind)
            {
                case UffdEventKind.PageFault:
                    ServeFault(batch.Source, e.Address);
                    break;
                case UffdEventKind.Remove when _handler is null:
                    // The kernel can deliver remove events after the range was unregistered.
                    _log.Warning("page remove event 0x{0:X}..0x{1:X} while vmm-swap is disabled", e.Address, e.End);
                    break;
                case UffdEventKind.Remove:
                    try
                    {
                        _handler.HandlePageRemove(e.Address, e.End);
                    }
                    catch (Exception error)
                    {
                        _log.Error(error, "failed to handle page remove 0x{0:X}..0x{1:X}", e.Address, e.End);
                    }

                    break;
                default:
                    _log.Error("unsupported userfaultfd event (code 0x{0:X}) at 0x{1:X}", e.Flags, e.Address);
                    break;
            }
        }

        RetryDeferred();

        // Freeing what served pages left waits until no fault is queued ahead of it.
        if (!_flushScheduled && _handler?.ServedPendingFlush > 0)
        {
            _flushScheduled = true;
            Self.Tell(FlushServed.Instance);
        }
    }

    private void ServeFault(Userfaultfd uffd, ulong address)
    {
        if (_handler is null)
        {
            // Read around Disable's unregister, or from a process that registered guest memory
            // itself while disabled: every page is in the guest, so the kernel resolves it.
            WakeUnserved(uffd, address, "vmm-swap is disabled");
            return;
        }

        try
        {
            _handler.HandlePageFault(uffd, address);
        }
        catch (UffdRetryException)
        {
            // A remove event is pending: it is read next, then this fault is retried.
            _deferred.Add((uffd, address));
        }
        catch (UffdTargetGoneException)
        {
            _log.Info("the process behind a userfaultfd is gone; dropping it");
            _registrations.Forget(uffd);
            _supervisor.Tell(new UffdGone(uffd));
        }
        catch (InvalidGuestAddressException)
        {
            WakeUnserved(uffd, address, "it is outside every guest region");
        }
        catch (Exception error)
        {
            // Serving it again now would fail again: the thread waits, and the host is told.
            _failed.Add((uffd, address));
            _supervisor.Tell(new FaultFailed(SwapFailure.From(error, $"page fault at 0x{address:X} could not be served")));
        }
    }

    // A fault the runtime will not serve must still end: its range is unregistered from that
    // userfaultfd (the whole guest region, so its neighbours do not fault one by one) and the
    // thread woken, so the kernel resolves the fault as if no userfaultfd were there.
    private void WakeUnserved(Userfaultfd uffd, ulong address, string why)
    {
        var page = (nint)PageSize.PageBase(address);
        var region = _registrations.RegionOf(address);
        _log.Info("page fault at 0x{0:X} not served ({1}): woken for the kernel to resolve", address, why);
        try
        {
            if (_handler is null || region is null)
            {
                uffd.Unregister(region?.HostAddress ?? page, region?.Size ?? (ulong)PageSize.Bytes);
            }
        }
        catch (NativeCallException e)
        {
            _log.Info("unregistering 0x{0:X} before the wake: {1}", address, e.Message);
        }

        try
        {
            uffd.Wake(page, (ulong)PageSize.Bytes);
        }
        catch (NativeCallException e)
        {
            _log.Warning("waking the fault at 0x{0:X} failed: {1}", address, e.Message);
        }
    }

    private void RetryDeferred()
    {
        if (_deferred.Count == 0)
        {
            return;
        }

        var retry = _deferred.ToArray();
        _deferred.Clear();
        foreach (var (uffd, address) in retry)
        {
            ServeFault(uffd, address);
        }

        if (_deferred.Count > 0)
        {
            Self.Tell(RetryDeferredFaults.Instance);
        }
    }

    private void Handle(StartEnable m)
    {
        _stagingClock = Stopwatch.StartNew();
        _stagedPages = 0;
        _stagingError = null;
        try
        {
            // The move to staging itself first ends any swap-out and runs pending frees (PageHandler.MoveToStaging).
            if (_handler is null && !Open(m.Uffds))
            {
                CompleteStagingIfDone();
                return;
            }

            foreach (var region in _guest.Regions)
            {
                var plan = _handler!.MoveToStaging(region.HostAddress);
                _stagedPages += plan.Pages;
                foreach (var batch in plan.Batches)
                {
                    _batchesOutstanding++;
                    _pool.Tell(new ExecuteBatch(batch));
                }
            }
        }
        catch (Exception error)
        {
            _stagingError = SwapFailure.From(error, "enable failed");
        }

        CompleteStagingIfDone();
    }

    // Creates the page state and registers every region with every userfaultfd, before anything
    // is staged. A userfaultfd whose process is gone is dropped (it touches nothing any more); one
    // that cannot be registered fails the Enable, naming it, and is dropped: its process would
    // otherwise read holes where staged pages are. Nothing stays registered then.
    private bool Open(IReadOnlyList<Userfaultfd> uffds)
    {
        _handler = PageHandler.Create(_guest.Regions, _options.ResolvedSwapDirectory);
        _mainUffd = uffds[0];

        // Those checked while disabled count even if the supervisor has not heard back yet: an
        // Enable sent right behind a ProcessForked must register that child too. A closed one
        // was dropped meanwhile (by the pump, on this thread).
        var all = uffds.Concat(_checked).Distinct().Where(u => !u.Fd.IsClosed).ToList();
        _checked.Clear();
        foreach (var uffd in all)
        {
            try
            {
                _registrations.Add(uffd);
            }
            catch (UffdTargetGoneException)
            {
                _log.Info("the process behind userfaultfd {0} has exited; dropping it", uffd.Fd.Value);
                _supervisor.Tell(new UffdGone(uffd));
            }
            catch (NativeCallException error)
            {
                var which = ReferenceEquals(uffd, _mainUffd) ? "the runtime's own userfaultfd" : $"the userfaultfd of a forked process (fd {uffd.Fd.Value}, now dropped)";
                _stagingError = SwapFailure.From(error, $"enable failed: registering guest memory with {which} failed");
                if (!ReferenceEquals(uffd, _mainUffd))
                {
                    _supervisor.Tell(new UffdGone(uffd));
                }

                UnregisterAll();
                _handler.Dispose();
                _handler = null;
                _mainUffd = null;
                return false;
            }
        }

        return true;
    }

    private void Handle(AttachUffd m)
    {
        string? error = null;
        try
        {
            if (_handler is null)
            {
                // Only a check that its process maps every region here; Enable registers it.
                _registrations.Check(m.Uffd);
                _checked.Add(m.Uffd);
            }
            else
            {
                _registrations.Add(m.Uffd);
            }
        }
        catch (NativeCallException e)
        {
            error = $"its guest memory cannot be registered: {e.Message}";
        }

        _supervisor.Tell(new UffdAttached(m.Uffd, m.ReplyTo, error));
    }

    // Unregisters every userfaultfd; one whose process has exited is dropped, as expected.
    private string? UnregisterAll() => _registrations.RemoveAll(uffd =>
    {
        _log.Info("the process behind userfaultfd {0} has exited; dropping it", uffd.Fd.Value);
        _supervisor.Tell(new UffdGone(uffd));
    });

    // Retries faults that failed: the page state changed since (an Enable has completed).
    private void RetryFailed()
    {
        var retry = _failed.ToArray();
        _failed.Clear();
        foreach (var (uffd, address) in retry)
        {
            ServeFault(uffd, address);
        }
    }

    private void Handle(BatchDone m)
    {
        _batchesOutstanding--;
        _stagingError ??= m.Error is null ? null : SwapFailure.From(m.Error, "move to staging failed");
        CompleteStagingIfDone();
    }

    private void CompleteStagingIfDone()
    {
        if (_batchesOutstanding == 0)
        {
            // Only now does staging hold the pages it says it holds.
            if (_handler is not null)
            {
                RetryFailed();
            }

            _supervisor.Tell(new StagingCompleted(_stagedPages, _stagingClock.Elapsed, _stagingError, _handler is not null));
        }
    }

    // Swap-out writes, trim windows and swap-in reads run on the page workers, so faults are
    // served meanwhile; swap-in's copies into the guest stay on this thread, in bounded steps
    // (SwapInDriver): they would race with faults on the same pages.
    private void Handle(RunChunk m)
    {
        try
        {
            var handler = _handler ?? throw new InvalidOperationException("no page state: vmm-swap is not enabled");
            switch (m.Kind)
            {
                case JobKind.SwapOut when handler.PlanSwapOut(_options.SwapChunkBytes) is { } write:
                    Dispatch(write, Sender);
                    break;
                case JobKind.SwapOut:
                    // Staging is empty: the swap-out is complete once the written pages leave RAM.
                    Dispatch(handler.PlanSwapOutFlush(), Sender);
                    break;
                case JobKind.SwapIn:
                    _swapIns.RunChunk(handler, _mainUffd!, Sender);
                    break;
                case JobKind.Trim:
                    // A context belongs to one job: a job that died without EndJob leaves nothing behind.
                    if (!Sender.Equals(_trimJob))
                    {
                        _trim = handler.StartTrim();
                        _trimJob = Sender;
                    }

                    if (_trim!.Plan(_options.TrimChunkPages) is { } window)
                    {
                        Dispatch(window, Sender);
                    }
                    else
                    {
                        Sender.Tell(new ChunkDone(m.Kind, 0, true, null));
                    }

                    break;
            }
        }
        catch (Exception error)
        {
            Sender.Tell(new ChunkDone(m.Kind, 0, false, SwapFailure.From(error, $"{m.Kind} chunk failed")));
        }
    }

    // One piece of work is in flight at a time; its answer goes to the job it serves.
    private void Dispatch(PageWork work, IActorRef job)
    {
        _inFlight = work;
        _pool.Tell(new ExecuteWork(work, job));
    }

    private void Handle(WorkDone m)
    {
        if (m.Work is SwapInRead read)
        {
            _swapIns.ReadDone(read, m.Error, _mainUffd!);
            return;
        }

        // Work of a job that died meanwhile: EndJob has dropped it.
        if (!ReferenceEquals(m.Work, _inFlight))
        {
            return;
        }

        _inFlight = null;
        var kind = m.Work is TrimWindow ? JobKind.Trim : JobKind.SwapOut;
        if (m.Error is not null)
        {
            // A failed write leaves its pages in staging, and a failed sync stages again what it
            // would have freed; a failed trim window drops nothing.
            var restored = RestoreUnsynced(m.Work);
            if (m.Work is SwapFileFlush { Durable.Synced: true })
            {
                // Synced: the pages are on disk; a failure to drop the cache loses nothing.
                _log.Warning("swap file synced but its page cache was not dropped: {0}", m.Error.Message);
                m.Job.Tell(new ChunkDone(JobKind.SwapOut, 0, true, null));
                return;
            }

            var context = restored > 0 ? $"{kind} failed ({restored} written pages were not synced and are staged again)" : $"{kind} failed";
            m.Job.Tell(new ChunkDone(kind, 0, false, SwapFailure.From(m.Error, context)));
            return;
        }

        try
        {
            var pages = m.Work switch
            {
                SwapFileFlush => 0,
                SwapOutWrite write => _handler!.CompleteSwapOut(write),
                TrimWindow window => _trim!.Complete(window),
                _ => throw new InvalidOperationException($"unexpected page work {m.Work.GetType().Name}"),
            };
            m.Job.Tell(new ChunkDone(kind, pages, m.Work is SwapFileFlush, null));
        }
        catch (Exception error)
        {
            m.Job.Tell(new ChunkDone(kind, 0, false, SwapFailure.From(error, $"{kind} failed")));
        }
    }

    // Staging copies that work would have freed after a sync it did not get to do successfully.
    private long RestoreUnsynced(PageWork work) => work switch
    {
        SwapOutWrite { Durable.Synced: false } write when _handler is not null => _handler.RestoreNotDurable(write.Durable),
        SwapFileFlush { Durable.Synced: false } flush when _handler is not null => _handler.RestoreNotDurable(flush.Durable),
        _ => 0,
    };

    // Finished or aborted: what the job's work left to free goes now, before anything can be
    // staged or written again.
    private void EndJob(JobKind kind)
    {
        // A finished or aborted job has no work in flight; one that died may, and it must not
        // complete later against a new job's state.
        if (_inFlight is { } orphan)
        {
            if (orphan.CancelOrWait(TimeSpan.FromSeconds(30)))
            {
                RestoreUnsynced(orphan);
            }
            else
            {
                // Its sync may still succeed and free what a restore would stage again: leave it.
                _log.Error("{0}: a page worker is still running the work of a job that died", kind);
            }

            _inFlight = null;
        }

        try
        {
            // Written but never synced: staged again, so nothing rests on unsynced bytes.
            _handler?.EndSwapOut();
            _handler?.FlushDeferredFrees();
        }
        catch (Exception e)
        {
            _log.Warning("{0}: freeing dropped pages failed: {1}", kind, e.Message);
        }

        switch (kind)
        {
            case JobKind.SwapIn:
                _swapIns.Retire();
                break;
            case JobKind.Trim:
                _trim = null;
                _trimJob = null;
                break;
        }
    }

    private void Handle(FinishDisable m)
    {
        var error = UnregisterAll();
        EndJob(JobKind.Trim);

        // Every page is in the guest: a thread whose fault failed gets it now.
        foreach (var (uffd, address) in _failed)
        {
            WakeUnserved(uffd, address, "its fault failed earlier; every page is back in the guest");
        }

        _failed.Clear();

        // The page state is about to be closed: no read of an aborted swap-in may still use it.
        _swapIns.Close(TimeSpan.FromSeconds(30));

        // Every page is in the guest and nothing is registered: swap is disabled now. Closing the
        // swap file (freeing its blocks) can take a while; a page worker does it.
        Sender.Tell(new SwapDisabled(error));
        if (_handler is not null)
        {
            _pool.Tell(new DisposePageState(_handler));
        }

        _handler = null;
        _mainUffd = null;
    }

    // The counters are read here; the resident count (a walk of the guest memfds) is left to the
    // status worker, which every reply goes through, so replies to one asker keep their order.
    private void Handle(ReportStatus m)
    {
        var enabled = _handler is not null && m.State != SwapState.Ready;
        _statusWorker.Tell(new CompleteStatus(m, enabled ? _handler!.Counters() : SwapMetrics.Empty, enabled ? _guest.Regions : []));
    }
}
