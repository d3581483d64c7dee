using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Jobs;
using VmmSwap.Actors.Metrics;
using VmmSwap.Actors.Workers;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// The only owner of the page state (<see cref="PageHandler"/>): serves fault and remove batches,
/// plans the move to staging and runs job chunks, one message at a time, on the fault pump thread.
/// Faults come first (see <see cref="PageHandlerMailbox"/>). It never lets an exception escape a
/// message: the page state must survive any single failure, so failures become replies.
/// </summary>
/// <remarks>
/// Longer than one concern per file usually allows because the fault path is kept whole here:
/// serving a fault, deferring it on EAGAIN, holding it when it fails, waking it unserved, and the
/// three moments that retry or wake held faults (Enable done, Disable done, stopped while
/// enabled). Faults parked on swap-file reads come back through PageHandlerActor.FaultReads.cs;
/// jobs (<c>Jobs/JobDrivers</c>), registration (<see cref="GuestRegistrations"/>) and the
/// Enable fan-in (<see cref="StagingFanIn"/>) live in their own types.
/// </remarks>
internal sealed partial class PageHandlerActor : ReceiveActor
{
    private readonly GuestMemory _guest;
    private readonly VmmSwapOptions _options;
    private readonly IActorRef _supervisor;
    private readonly IActorRef _pool;
    private readonly FaultReadStarter _reads;

    private readonly PublishedCounters _counters;
    private readonly GuestMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<(Userfaultfd Uffd, ulong Address)> _deferred = [];

    // Faults that failed: their threads wait until Disable has brought every page back (then
    // they are woken) or the next Enable retries them. See docs/RELIABILITY.md.
    private readonly List<(Userfaultfd Uffd, ulong Address)> _failed = [];
    private readonly GuestRegistrations _registrations;

    // Detached userfaultfds the pump may still read until the supervisor has it unwatch them:
    // their events name addresses no table here translates any more.
    private readonly HashSet<Userfaultfd> _detached = [];

    private PageHandler? _handler;
    private readonly JobDrivers _jobs;
    private Userfaultfd? _mainUffd;
    private bool _flushScheduled;

    // Pages per fault read (VmmSwapOptions.FaultReadPages); 0 once stopping, when no read could
    // come back to this actor.
    private int _faultReadPages;

    // What the guest faulted lately (null when not recorded); it outlives each cycle's page state.
    private readonly WorkingSet? _workingSet;

    // The Enable under way (or the last one): its batches out on the page workers.
    private StagingFanIn _enable = new();

    public PageHandlerActor(GuestMemory guest, VmmSwapOptions options, IActorRef supervisor, IActorRef pool, FaultReadStarter reads, PublishedCounters counters, GuestMetrics metrics)
    {
        _metrics = metrics;
        _guest = guest;
        _options = options;
        _supervisor = supervisor;
        _pool = pool;
        _reads = reads;
        _faultReadPages = options.FaultReadPages;
        _counters = counters;
        _jobs = new JobDrivers(new JobContext(options, _log, pool, Self));
        _registrations = new GuestRegistrations(guest.Regions);
        _workingSet = options.WorkingSetFirst ? new WorkingSet(guest.Regions.Sum(r => r.PageCount)) : null;
        Receive<UffdEventBatch>(Handle);
        Receive<RetryDeferredFaults>(_ => RetryDeferred());
        Receive<FaultReadDone>(Handle);
        Receive<FaultReadsCompleted>(_ => ReapFaultReads());
        Receive<StartHeldRead>(m => _reads.StartHeld(m.Read, Self));
        Receive<FlushServed>(_ =>
        {
            _flushScheduled = false;
            _handler?.FlushServed();
        });
        Receive<AttachUffd>(Handle);
        Receive<DetachUffd>(Handle);
        Receive<StartEnable>(Handle);
        Receive<BatchDone>(Handle);
        Receive<RunChunk>(m => _jobs.RunChunk(m.Kind, Sender, _handler, _mainUffd));
        Receive<ContinueSwapIn>(m => _jobs.ContinueSwapIn(m.Job, m.Pages));
        Receive<WorkDone>(m => _jobs.WorkDone(m.Work, m.Error));
        Receive<EndJob>(m => EndJob(m.Kind));
        Receive<FinishDisable>(Handle);
    }

    public static Props Props(GuestMemory guest, VmmSwapOptions options, IActorRef supervisor, IActorRef pool, FaultReadStarter reads, PublishedCounters counters, GuestMetrics metrics) =>
        Akka.Actor.Props.Create(() => new PageHandlerActor(guest, options, supervisor, pool, reads, counters, metrics))
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
        _faultReadPages = 0;
        var safe = true;
        try
        {
            _jobs.EndRunning();
        }
        catch (Exception error)
        {
            _log.Error(error, "ending the running job's work failed; its memory is left mapped");
            safe = false;
        }

        safe &= _jobs.CloseEnded(TimeSpan.FromSeconds(30));
        if (!safe)
        {
            _log.Error("a page worker is still running after 30 s; its memory is left mapped");
        }

        safe &= CloseFaultReads();

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
            _handler?.Dispose();
        }
    }

    // Runs on the pump thread, which reads no events meanwhile: read them here when the kernel defers a copy.
    private void SwapInEverything()
    {
        using var swapIn = _handler!.StartSwapIn();
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
                    UffdEvent[] events;
                    while ((events = uffd.Drain(FaultPump.MaxBatch)).Length > 0)
                    {
                        Handle(new UffdEventBatch(uffd, events));
                    }
                }
            }
        }

        UnregisterAll();
    }

    private void Handle(UffdEventBatch batch)
    {
        if (_detached.Count > 0 && _detached.Contains(batch.Source))
        {
            // Read before the unregister took effect: the kernel woke those threads itself.
            return;
        }

        foreach (var e in batch.Events)
        {
            switch (e.Kind)
            {
                case UffdEventKind.PageFault:
                    ServeFault(batch.Source, e.Address, _faultReadPages);
                    break;
                case UffdEventKind.Remove when _handler is null:
                    // The kernel can deliver remove events after the range was unregistered.
                    _log.Warning("page remove event 0x{0:X}..0x{1:X} while vmm-swap is disabled", e.Address, e.End);
                    break;
                case UffdEventKind.Remove:
                    try
                    {
                        if (_registrations.LayoutOf(batch.Source) is { } layout)
                        {
                            _handler.HandlePageRemove(layout, e.Address, e.End);
                        }
                        else
                        {
                            _handler.HandlePageRemove(e.Address, e.End);
                        }
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
        ScheduleFlush();
    }

    // Freeing what served pages left waits until no fault is queued ahead of it.
    private void ScheduleFlush()
    {
        if (!_flushScheduled && _handler?.ServedPendingFlush > 0)
        {
            _flushScheduled = true;
            Self.Tell(FlushServed.Instance);
        }
    }

    // parkedAt: when a fault served again after a read had parked it (the metrics time its whole wait).
    // now: served on this thread whatever reads are under way (a userfaultfd being detached).
    private void ServeFault(Userfaultfd uffd, ulong address, int readPages, long? parkedAt = null, bool now = false)
    {
        var start = Stopwatch.GetTimestamp();
        if (_handler is null)
        {
            // Read around Disable's unregister, or from a process that registered guest memory
            // itself while disabled: every page is in the guest, so the kernel resolves it.
            WakeUnserved(uffd, address, "vmm-swap is disabled");
            return;
        }

        try
        {
            // A device process reports its own addresses: its layout finds the page.
            var served = now
                ? _handler.HandlePageFaultNow(uffd, _registrations.LayoutOf(uffd), address)
                : _registrations.LayoutOf(uffd) is { } layout
                    ? _handler.HandlePageFault(uffd, layout, address, readPages)
                    : _handler.HandlePageFault(uffd, address, readPages);
            if (served.Read is { } read)
            {
                _reads.Start(read, Self);
            }

            _metrics.Fault(served.Source, start, parkedAt);
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
            _handler.ForgetFaultsOf(uffd);
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
        var region = _registrations.RegionOf(uffd, address);
        _log.Info("page fault at 0x{0:X} not served ({1}): woken for the kernel to resolve", address, why);
        try
        {
            if (_handler is null || region is null)
            {
                uffd.Unregister(region?.Address ?? page, region?.Size ?? (ulong)PageSize.Bytes);
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
            ServeFault(uffd, address, _faultReadPages);
        }

        if (_deferred.Count > 0)
        {
            Self.Tell(RetryDeferredFaults.Instance);
        }
    }

    private void Handle(StartEnable m)
    {
        _enable = new StagingFanIn();
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
                _enable.Planned(plan.Pages);
                foreach (var batch in plan.Batches)
                {
                    _enable.Sent();
                    _pool.Tell(new ExecuteBatch(batch));
                }
            }
        }
        catch (Exception error)
        {
            _enable.Failed(SwapFailure.From(error, "enable failed"));
        }

        CompleteStagingIfDone();
    }

    // Creates the page state and registers every region with every userfaultfd, before anything
    // is staged. A userfaultfd whose process is gone is dropped (it touches nothing any more); one
    // that cannot be registered fails the Enable, naming it, and is dropped: its process would
    // otherwise read holes where staged pages are. Nothing stays registered then.
    private bool Open(IReadOnlyList<Userfaultfd> uffds)
    {
        _workingSet?.StartCycle();
        _handler = PageHandler.Create(_guest.Regions, _options.ResolvedSwapDirectory, _workingSet);
        _mainUffd = uffds[0];
        if (_registrations.AddAll(uffds, Gone) is not var (uffd, error))
        {
            return true;
        }

        var which = ReferenceEquals(uffd, _mainUffd) ? "the runtime's own userfaultfd" : $"the userfaultfd of a forked process (fd {uffd.Fd.Value}, now dropped)";
        _enable.Failed(SwapFailure.From(error, $"enable failed: registering guest memory with {which} failed"));
        if (!ReferenceEquals(uffd, _mainUffd))
        {
            _supervisor.Tell(new UffdGone(uffd));
        }

        _handler.Dispose();
        _handler = null;
        _mainUffd = null;
        return false;
    }

    private void Handle(AttachUffd m)
    {
        string? error = null;
        try
        {
            if (_handler is null)
            {
                // Only a check that its process maps every region there; Enable registers it.
                _registrations.Check(m.Uffd, m.Layout);
            }
            else
            {
                _registrations.Add(m.Uffd, m.Layout);
            }
        }
        catch (NativeCallException e)
        {
            error = $"its guest memory cannot be registered: {e.Message}";
        }

        _supervisor.Tell(new UffdAttached(m.Uffd, m.ReplyTo, m.Command, error));
    }

    // A fault of this process the runtime has read but not served yet (parked on a read, or
    // deferred behind a remove event) is served before the unregister: the unregister wakes its
    // thread, which would touch the page's hole with nothing registered, and the kernel would fill
    // it with zeros in the guest's own memory while the page's bytes are still in the page state.
    // Anything read after this goes unanswered by the page state: the kernel resolves faults of an
    // unregistered range itself.
    private void Handle(DetachUffd m)
    {
        if (_handler is not null && !m.Uffd.Fd.IsClosed)
        {
            DrainAndServe(m.Uffd);
            foreach (var fault in _handler.TakeFaultsOf(m.Uffd))
            {
                ServeFault(fault.Uffd, fault.Address, 0, fault.ParkedAt, now: true);
            }
        }

        _deferred.RemoveAll(f => f.Uffd == m.Uffd);
        _failed.RemoveAll(f => f.Uffd == m.Uffd);
        _handler?.ForgetFaultsOf(m.Uffd);
        _detached.RemoveWhere(u => u.Fd.IsClosed);
        _detached.Add(m.Uffd);
        _supervisor.Tell(new UffdDetached(m.Uffd, m.ReplyTo, _registrations.Remove(m.Uffd)));
    }

    // Reads and handles what the userfaultfd holds now: a remove event read here lets the faults
    // deferred behind it be served (RetryDeferred). A read that fails leaves the rest to the pump.
    private void DrainAndServe(Userfaultfd uffd)
    {
        try
        {
            UffdEvent[] events;
            while ((events = uffd.Drain(FaultPump.MaxBatch)).Length > 0)
            {
                Handle(new UffdEventBatch(uffd, events));
            }
        }
        catch (NativeCallException e)
        {
            _log.Info("reading userfaultfd {0} before its detach: {1}", uffd.Fd.Value, e.Message);
        }
    }

    // Unregisters every userfaultfd; one whose process has exited is dropped, as expected.
    private Exception? UnregisterAll() => _registrations.RemoveAll(Gone);

    private void Gone(Userfaultfd uffd)
    {
        _log.Info("the process behind userfaultfd {0} has exited; dropping it", uffd.Fd.Value);
        _handler?.ForgetFaultsOf(uffd);
        _supervisor.Tell(new UffdGone(uffd));
    }

    // Retries faults that failed: the page state changed since (an Enable has completed).
    private void RetryFailed()
    {
        var retry = _failed.ToArray();
        _failed.Clear();
        foreach (var (uffd, address) in retry)
        {
            ServeFault(uffd, address, _faultReadPages);
        }
    }

    private void Handle(BatchDone m)
    {
        _enable.Answered(m.Error);
        CompleteStagingIfDone();
    }

    private void CompleteStagingIfDone()
    {
        if (_enable.Complete)
        {
            // Only now does staging hold the pages it says it holds.
            if (_handler is not null)
            {
                RetryFailed();
            }

            _supervisor.Tell(_enable.Result(_handler is not null));
        }
    }

    // Finished, aborted or dead: the driver goes, and what the job's work left to free goes now,
    // before anything can be staged or written again.
    private void EndJob(JobKind kind)
    {
        _jobs.EndRunning();
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
    }

    private void Handle(FinishDisable m)
    {
        // Every page is back: a fault still parked on a read is served (woken) before the unregister.
        var readsClosed = CloseFaultReads();
        var error = UnregisterAll();
        EndJob(JobKind.SwapIn);

        // Every page is in the guest: a thread whose fault failed gets it now.
        foreach (var (uffd, address) in _failed)
        {
            WakeUnserved(uffd, address, "its fault failed earlier; every page is back in the guest");
        }

        _failed.Clear();

        // The page state is about to be closed: no work of an ended job may still use it. If some
        // will not finish, the page state is left open (leaked) rather than freed under it.
        var safe = _jobs.CloseEnded(TimeSpan.FromSeconds(30)) && readsClosed;

        // Every page is in the guest and nothing is registered: swap is disabled now. Closing the
        // swap file (freeing its blocks) can take a while; a page worker does it.
        Sender.Tell(new SwapDisabled(error));
        if (_handler is not null && safe)
        {
            _pool.Tell(new DisposePageState(_handler));
        }
        else if (_handler is not null)
        {
            _log.Error("a page worker still runs the work of an ended job after 30 s; the page state is left open");
        }

        _handler = null;
        _mainUffd = null;
    }

    // The page state's counters; if they cannot be read, the last published stay, and readers
    // still see the message end (a version left odd would hold every Status forever).
    private SwapMetrics CountersNow()
    {
        try
        {
            return _handler?.Counters() ?? SwapMetrics.Empty;
        }
        catch (Exception error)
        {
            _log.Error(error, "the page counters could not be read");
            return _counters.Last;
        }
    }

    // Every message may change the counters: they are published as it ends (PublishedCounters).
    protected override bool AroundReceive(Receive receive, object message)
    {
        _counters.Begin();
        try
        {
            return base.AroundReceive(receive, message);
        }
        finally
        {
            _counters.End(CountersNow(), _handler?.HostMemory);
        }
    }
}
