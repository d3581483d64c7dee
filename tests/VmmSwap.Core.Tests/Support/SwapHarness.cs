using System.Collections.Concurrent;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Work;
using VmmSwap.Native.Files;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Support;

/// <summary>
/// A guest on real memfd regions with a real userfaultfd, served by a <see cref="PageHandler"/>
/// on a fault-server thread. Every handler call from the test thread takes the same lock the
/// server holds while it drains events, as the single-owner actor would serialise them. Past ~300
/// lines because every Core test drives the page state through it, and its planned-work helpers
/// (plan, execute, complete, as the actors do) must share that lock and that server.
/// </summary>
internal sealed class SwapHarness : IDisposable
{
    internal const ulong Chunk = 2 * 1024 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    private readonly Userfaultfd _uffd = Userfaultfd.Create();
    private readonly GuestRegistrations _registrations;
    private readonly FaultServer _server;
    private PageHandler? _handler;

    // Fault reads (see Parking): pages per read, and the reads planned, for a reader thread or the test.
    private readonly int _readPages;
    private readonly BlockingCollection<FaultRead> _reads = [];
    private readonly Thread? _reader;

    // Fault reads started on an io_uring from the thread that serves the fault (see ParkingOnRing);
    // the reader thread then reaps them.
    private readonly FaultReadRing? _ring;

    // A second process's userfaultfd (a forked child mapping the guest at the same addresses),
    // served by its own fault-server thread under the same lock.
    private ForeignUserfaultfd? _child;
    private FaultServer? _childServer;

    internal SwapHarness(params long[] regionPages)
        : this(0, false, regionPages)
    {
    }

    private SwapHarness(int readPages, bool autoRead, long[] regionPages, bool onRing = false)
    {
        _readPages = readPages;
        _ring = onRing ? FaultReadRing.Create() : null;
        Guest = GuestMemory.Create([.. regionPages.Select(p => PageSize.PagesToBytes(p))]);
        _registrations = new GuestRegistrations(Guest.Regions);
        _server = new FaultServer(_uffd, Serve, _gate);
        if (autoRead)
        {
            _reader = new Thread(onRing ? ReapAll : ReadAll) { IsBackground = true, Name = "test fault reader" };
            _reader.Start();
        }
    }

    /// <summary>
    /// A harness whose file faults park on reads of <paramref name="readPages"/> pages, as the
    /// runtime's do: executed by a reader thread when <paramref name="autoRead"/>, else left for
    /// the test to take (<see cref="TakeRead"/>) and finish (<see cref="FinishRead"/>).
    /// </summary>
    internal static SwapHarness Parking(int readPages, bool autoRead, params long[] regionPages) => new(readPages, autoRead, regionPages);

    /// <summary>File faults parked on reads of 8 pages, as the runtime's by default, and the working set first (working-set-first = on).</summary>
    internal static SwapHarness ParkingWithWorkingSet(params long[] regionPages) => new(8, true, regionPages) { WorkingSet = new WorkingSet(regionPages.Sum()) };

    /// <summary>
    /// As <see cref="ParkingWithWorkingSet"/>, but each read starts on an io_uring from the thread
    /// that serves its fault, and a reader thread reaps the completions, as the runtime's fault
    /// thread does with fault-reads-io-uring on.
    /// </summary>
    internal static SwapHarness ParkingOnRingWithWorkingSet(params long[] regionPages) => new(8, true, regionPages, onRing: true) { WorkingSet = new WorkingSet(regionPages.Sum()) };

    /// <summary>Fault events the fault server has handled.</summary>
    internal int EventsHandled => _server.Handled;

    /// <summary>Reads planned and not yet taken.</summary>
    internal int QueuedReads => _reads.Count;

    /// <summary>The next read a parked fault waits for.</summary>
    internal FaultRead TakeRead() =>
        _reads.TryTake(out var read, Deadline) ? read : throw new TimeoutException($"no fault read was planned within {Deadline.TotalSeconds} s");

    /// <summary>Takes the read back (after <see cref="PageWork.Execute"/>, or as failed) and serves the faults parked on it, as the runtime does.</summary>
    internal void FinishRead(FaultRead read, bool succeeded)
    {
        lock (_gate)
        {
            if (_handler is null)
            {
                return;
            }

            foreach (var fault in _handler.CompleteFaultRead(read, succeeded))
            {
                ServeFault(fault.Uffd, fault.Address, succeeded ? _readPages : 0);
            }
        }
    }

    internal GuestMemory Guest { get; }

    /// <summary>Where faults are recorded and what swap-in brings in first, as the runtime's; set before the first Enable.</summary>
    internal WorkingSet? WorkingSet { get; init; }

    /// <summary>Where the swap file goes; the system temp directory unless set before the first Enable.</summary>
    internal string SwapDirectory { get; init; } = Path.GetTempPath();

    internal Userfaultfd Uffd => _uffd;

    internal PageHandler Handler => _handler ?? throw new InvalidOperationException("swap is not enabled");

    internal bool Enabled => _handler is not null;

    /// <summary>The attached child process, if any.</summary>
    internal ForeignUserfaultfd? Child => _child;

    /// <summary>
    /// Attaches a child process that maps the guest at the same addresses, as the runtime does:
    /// its userfaultfd is registered at once while enabled, else at the next Enable.
    /// </summary>
    internal void AttachChild()
    {
        lock (_gate)
        {
            _child = ForeignUserfaultfd.Create(Guest.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, r.HostAddress, r.Size)));
            _childServer = new FaultServer(_child.Uffd, Serve, _gate);
            if (_handler is not null)
            {
                Register(_child.Uffd);
            }
        }
    }

    /// <summary>
    /// Maps the guest's memfds a second time at other addresses with their own userfaultfd, as a
    /// device process does, registered at once and served through its own layout: call it while
    /// enabled. The caller disposes it before the harness.
    /// </summary>
    internal SecondMapping MapAgain()
    {
        lock (_gate)
        {
            var mapping = new SecondMapping(Guest, () => _handler, _gate);
            mapping.Register();
            return mapping;
        }
    }

    /// <summary>
    /// Starts a swap-in, reads its first window and copies one step, then drops it without
    /// Dispose, as a job that died would; returns the pages it copied.
    /// </summary>
    internal long AbandonSwapIn(ulong chunk)
    {
        lock (_gate)
        {
            var abandoned = Handler.StartSwapIn();
            if (abandoned.PlanRead(chunk) is { } read)
            {
                read.Execute();
                abandoned.Loaded(read);
            }

            try
            {
                return abandoned.CopyStep(_uffd, (ulong)Page);
            }
            catch (UffdRetryException)
            {
                return 0;
            }
        }
    }

    internal static int Page => PageSize.Bytes;

    /// <summary>Creates the handler (first time) and moves every resident page to staging; returns the pages moved.</summary>
    internal long Enable()
    {
        lock (_gate)
        {
            if (_handler is null)
            {
                WorkingSet?.StartCycle();
                _handler = PageHandler.Create(Guest.Regions, SwapDirectory, WorkingSet);
                Register(_uffd);
                if (_child is not null)
                {
                    Register(_child.Uffd);
                }
            }

            long pages = 0;
            foreach (var region in Guest.Regions)
            {
                var plan = _handler.MoveToStaging(region.HostAddress);
                Parallel.ForEach(plan.Batches, b => b.Execute());
                pages += plan.Pages;
            }

            return pages;
        }
    }

    /// <summary>
    /// Swaps out up to <paramref name="maxChunks"/> chunks (all when null, then the final flush, as
    /// the swap-out job does); returns the pages written.
    /// </summary>
    internal long SwapOutAll(int? maxChunks = null, ulong chunk = Chunk)
    {
        lock (_gate)
        {
            long total = 0;
            long pages;
            for (var i = 0; (maxChunks is null || i < maxChunks) && (pages = Handler.SwapOutChunk(chunk)) > 0; i++)
            {
                total += pages;
            }

            if (maxChunks is null)
            {
                Handler.PlanSwapOutFlush().Execute();
            }

            return total;
        }
    }

    internal (long Zero, long Clean) TrimAll()
    {
        lock (_gate)
        {
            var trim = Handler.StartTrim();
            while (trim.TrimChunk(Handler, 1024) is not null)
            {
            }

            return (trim.ZeroPages, trim.CleanPages);
        }
    }

    /// <summary>Swaps in up to <paramref name="maxChunks"/> chunks (all when null); returns the pages brought in.</summary>
    internal long SwapIn(int? maxChunks = null, ulong chunk = Chunk)
    {
        lock (_gate)
        {
            using var swapIn = Handler.StartSwapIn();
            long total = 0;
            for (var i = 0; maxChunks is null || i < maxChunks; i++)
            {
                var pages = swapIn.SwapIn(_uffd, chunk);
                if (pages == 0)
                {
                    break;
                }

                total += pages;
            }

            return total;
        }
    }

    /// <summary>Swaps everything in, serves faults still parked on reads, unregisters the guest and drops the handler.</summary>
    internal void Disable()
    {
        SwapIn();
        lock (_gate)
        {
            CloseReads();
            Unregister(_uffd);
            if (_child is not null)
            {
                Unregister(_child.Uffd);
            }

            _handler?.Dispose();
            _handler = null;
        }
    }

    /// <summary>
    /// Writes the swap file back and drops its page cache, as a host short of memory would, so the
    /// next file faults need the disk (and park, on a parking harness).
    /// </summary>
    internal void DropSwapFileCache()
    {
        lock (_gate)
        {
            FileOps.DataSync(Handler.File.Fd);
            FileOps.DropPageCache(Handler.File.Fd);
        }
    }

    /// <summary>Runs <paramref name="call"/> on the handler under the lock the fault server holds.</summary>
    internal T Locked<T>(Func<PageHandler, T> call)
    {
        lock (_gate)
        {
            return call(Handler);
        }
    }

    internal SwapMetrics Metrics()
    {
        lock (_gate)
        {
            return Handler.Metrics();
        }
    }

    internal byte[] Read(long page)
    {
        var buffer = new byte[Page];
        OnGuestThread(() => Guest.Read(Guest.PageAddress(page), buffer), $"read of page {page}");
        return buffer;
    }

    internal void Write(long page, byte[] content) =>
        OnGuestThread(() => Guest.Write(Guest.PageAddress(page), content), $"write of page {page}");

    /// <summary>Frees guest pages as a balloon does: MADV_REMOVE on the guest mapping.</summary>
    internal void Remove(long firstPage, long pages) =>
        OnGuestThread(() => Madvise.Apply(Guest.PageAddress(firstPage), PageSize.PagesToBytes(pages), MemoryAdvice.Remove), $"remove of pages {firstPage}+{pages}");

    public void Dispose()
    {
        _reads.CompleteAdding();
        _reader?.Join(Deadline);
        lock (_gate)
        {
            if (_handler is not null)
            {
                CloseReads();
            }
        }

        _childServer?.Dispose();
        _child?.Dispose();
        _server.Dispose();
        _handler?.Dispose();
        _ring?.Dispose();
        _uffd.Dispose();
        Guest.Dispose();
    }

    private static void OnGuestThread(Action access, string what)
    {
        if (!Blocking.RunOnThread(access, Deadline))
        {
            throw new TimeoutException($"guest {what} was not served within {Deadline.TotalSeconds} s");
        }
    }

    // The runtime's own registration (all regions or none), so the harness registers as it does.
    private void Register(Userfaultfd uffd) => _registrations.Add(uffd);

    private void Unregister(Userfaultfd uffd)
    {
        if (_registrations.Remove(uffd) is { } error)
        {
            throw error;
        }
    }

    private void Serve(Userfaultfd uffd, UffdEvent e)
    {
        switch (e.Kind)
        {
            case UffdEventKind.PageFault when _handler is null:
                // Read after Disable unregistered the guest: every page is in, so the kernel
                // resolves it once woken (the runtime does the same).
                uffd.Wake((nint)PageSize.PageBase(e.Address), (ulong)Page);
                break;
            case UffdEventKind.PageFault when _handler is not null:
                ServeFault(uffd, e.Address, _readPages);
                break;
            case UffdEventKind.Remove when _handler is not null:
                _handler.HandlePageRemove(e.Address, e.End);
                break;
            default:
                throw new InvalidOperationException($"unexpected event {e} while swap is {(_handler is null ? "disabled" : "enabled")}");
        }
    }

    private void ServeFault(Userfaultfd uffd, ulong address, int readPages)
    {
        if (Handler.HandlePageFault(uffd, address, readPages).Read is not { } read)
        {
            return;
        }

        if (_ring is null)
        {
            _reads.Add(read);
            return;
        }

        try
        {
            _ring.Start(read);
        }
        catch (IOException)
        {
            foreach (var fault in Handler.CompleteFaultRead(read, succeeded: false))
            {
                ServeFault(fault.Uffd, fault.Address, 0);
            }
        }
    }

    // As the runtime before the page state goes: reads end, and their parked faults are served here.
    private void CloseReads()
    {
        var (parked, safe) = Handler.CloseFaultReads(Deadline);
        if (!safe)
        {
            throw new TimeoutException("a fault read did not end");
        }

        foreach (var fault in parked)
        {
            ServeFault(fault.Uffd, fault.Address, 0);
        }
    }

    // Reaps the ring until the harness is disposed; its sleeps are kernel entries too, so the
    // kernel can finish this thread's own reads meanwhile.
    private void ReapAll()
    {
        while (!_reads.IsAddingCompleted)
        {
            lock (_gate)
            {
                foreach (var (read, error) in _ring!.Reap())
                {
                    FinishRead(read, error is null);
                    if (error is null)
                    {
                        read.ReadAround();
                    }
                }
            }

            Thread.Sleep(1);
        }
    }

    private void ReadAll()
    {
        foreach (var read in _reads.GetConsumingEnumerable())
        {
            var succeeded = true;
            try
            {
                read.Execute();
            }
            catch (IOException)
            {
                succeeded = false;
            }

            FinishRead(read, succeeded);
            if (succeeded)
            {
                read.ReadAround();
            }
        }
    }
}
