using System.Diagnostics;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Staging;
using VmmSwap.Core.Storage;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Core;

/// <summary>
/// The state of every guest page while swap is enabled: in the guest, in staging, in the swap
/// file, or nowhere (a zero page on next touch). Serves faults and remove events and drives the
/// chunked move to staging, swap-out, swap-in and trim. Not thread-safe: one owner serialises
/// every call (the PageHandler actor); only <see cref="MoveToStagingBatch.Execute"/> runs elsewhere.
/// </summary>
/// <remarks>
/// One file past the usual length: every transition of a page (fault, remove, move to staging,
/// write, sync, restore, swap-in) is here, next to the others, because each must leave the page
/// in exactly one place; the work itself lives in <c>Work/</c> and <c>Staging/</c>.
/// </remarks>
public sealed class PageHandler : IDisposable
{
    private readonly PageHandlerRegion[] _regions;

    // Staging runs written to the file since the last successful sync: their memory is kept
    // until a sync succeeds (see DurableFrees).
    private readonly List<PageRange> _notDurable = [];
    private long _notDurablePages;

    // Stopwatch timestamp of the last fault served or parked; 0 before the first.
    private long _lastFaultAt;

    private PageHandler(PageHandlerRegion[] regions, StagingMemory staging, SwapFile file, WorkingSet? workingSet)
    {
        _regions = regions;
        WorkingSet = workingSet;
        Staging = staging;
        File = file;
        Deferred = new DeferredFrees(staging, file);
        FaultReads = new FaultReads(file, new DeferredFrees(staging, file));
        Copies = workingSet is null ? null : new WorkingSetCopies(file, workingSet);
        file.Leaving = range =>
        {
            FaultReads.Drop(range);
            Copies?.Drop(range);
        };
        HostMemory = new HostMemoryProbe(staging.MemFd, file.Fd);
    }

    /// <summary>Staging memory, indexed by swap-file page.</summary>
    public StagingMemory Staging { get; }

    /// <summary>The swap file.</summary>
    public SwapFile File { get; }

    /// <summary>
    /// The swap-in under way, whose loaded windows serve faults on their pages. Its buffers hold
    /// the file's bytes as read, so anything that starts other page work (staging, a write, a trim,
    /// another swap-in) drops it first, even if its job never said it was over.
    /// </summary>
    internal SwapInContext? ActiveSwapIn { get; set; }

    /// <summary>Time since the last fault this handler served or parked; long, before the first.</summary>
    public TimeSpan SinceLastFault => _lastFaultAt == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(_lastFaultAt);

    /// <summary>Where every fault is recorded, and what a swap-in brings in first; null when not recorded.</summary>
    public WorkingSet? WorkingSet { get; }

    /// <summary>The working set's copies packed past the guest's slots, which a working-set swap-in reads first; null without a working set.</summary>
    public WorkingSetCopies? Copies { get; }

    /// <summary>The swap-file reads for faults under way, and the last ones loaded.</summary>
    public FaultReads FaultReads { get; }

    /// <summary>What job work dropped from the page state but has not freed yet; the next work of the job carries it.</summary>
    internal DeferredFrees Deferred { get; }

    /// <summary>Measures, from any thread, the host memory and disk this page state holds (staging and the swap file).</summary>
    public HostMemoryProbe HostMemory { get; }

    /// <summary>The guest regions handled, in swap-file order.</summary>
    public IEnumerable<GuestRegion> Regions => _regions.Select(r => r.Guest);

    /// <summary>
    /// Creates a handler for <paramref name="regions"/> with staging memory and a swap file in
    /// <paramref name="swapDirectory"/> sized for all of them. Overlapping regions are refused with
    /// both ranges named. Faults are recorded in <paramref name="workingSet"/> when given (one slot
    /// per page of the regions), and a swap-in brings its pages in first.
    /// </summary>
    public static PageHandler Create(IReadOnlyList<GuestRegion> regions, string swapDirectory, WorkingSet? workingSet = null)
    {
        ArgumentNullException.ThrowIfNull(regions);
        if (regions.Count == 0)
        {
            throw new ArgumentException("a page handler needs at least one guest region", nameof(regions));
        }

        GuestRegionOverlap.ThrowIfAny(regions);
        var handled = new PageHandlerRegion[regions.Count];
        long filePages = 0;
        for (var i = 0; i < regions.Count; i++)
        {
            handled[i] = new PageHandlerRegion(regions[i], filePages);
            filePages += regions[i].PageCount;
        }

        if (workingSet is not null && workingSet.Length != filePages)
        {
            throw new ArgumentException($"the working set covers {workingSet.Length} pages, the regions {filePages}", nameof(workingSet));
        }

        var staging = new StagingMemory(filePages);
        try
        {
            return new PageHandler(handled, staging, new SwapFile(swapDirectory, filePages), workingSet);
        }
        catch
        {
            staging.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Serves a missing-page fault at <paramref name="address"/>: from staging, else from the swap
    /// file, else with a zero page. A page served from staging is freed later, in a run with its
    /// neighbours, by <see cref="StagingMemory.FlushReleased"/>. A zero page that already exists (another uffd's fault won)
    /// only wakes the waiter and counts as redundant. Throws <see cref="UffdRetryException"/>
    /// with no state changed while a remove event is pending: read events, then retry.
    /// </summary>
    /// <param name="uffd">The userfaultfd the fault was read from.</param>
    /// <param name="address">The faulting address.</param>
    /// <param name="readPages">
    /// 0: a swap-file page is copied from the file's mapping here, waiting for the disk if it is not
    /// in the page cache. Positive: such a page is not read on this thread; the fault parks on a
    /// read of up to this many pages (its aligned block), or on the read of it already under way,
    /// and is served again by <see cref="CompleteFaultRead"/>.
    /// </param>
    /// <returns>Where the page came from; parked, with a new read to run (off this thread, or on this thread's <see cref="FaultReadRing"/>) and then pass to <see cref="CompleteFaultRead"/> (none when it waits for a read under way).</returns>
    public FaultServed HandlePageFault(Userfaultfd uffd, ulong address, int readPages = 0) => ServeFault(uffd, address, (nint)PageSize.PageBase(address), readPages);

    /// <summary>
    /// Serves a fault that <paramref name="uffd"/> reported at <paramref name="address"/> of its own
    /// process, which maps the guest as <paramref name="layout"/> says: the page is found by its
    /// host address and copied in at the process's, from the same page state as the host's faults.
    /// A parked fault keeps the process's address, so it is served again through the same layout.
    /// </summary>
    public FaultServed HandlePageFault(Userfaultfd uffd, GuestLayout layout, ulong address, int readPages = 0)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var (host, _) = layout.ToHost(address) ?? throw new InvalidGuestAddressException(address, "no guest region is mapped there in that process");
        return ServeFault(uffd, host, (nint)PageSize.PageBase(address), readPages);
    }

    /// <summary>
    /// Serves a fault on this thread whatever reads are under way: a page a fault read is still
    /// loading is read through the file's mapping instead of waiting for it. For a userfaultfd
    /// about to be detached, whose faults cannot wait (<see cref="TakeFaultsOf"/>).
    /// </summary>
    public FaultServed HandlePageFaultNow(Userfaultfd uffd, GuestLayout? layout, ulong address)
    {
        var host = layout is null ? address : (layout.ToHost(address) ?? throw new InvalidGuestAddressException(address, "no guest region is mapped there in that process")).HostAddress;
        return ServeFault(uffd, host, (nint)PageSize.PageBase(address), readPages: 0, mayWait: false);
    }

    // address names the page (a host address); pageAddress is where uffd's process maps it.
    // mayWait: a page a fault read is loading waits for it (parked); false reads it here.
    private FaultServed ServeFault(Userfaultfd uffd, ulong address, nint pageAddress, int readPages, bool mayWait = true)
    {
        ArgumentNullException.ThrowIfNull(uffd);
        var page = PageSize.AddressToPageIndex(address);
        var region = FindRegion(page) ?? throw new InvalidGuestAddressException(address, "no guest region contains it");
        var fileIndex = region.FileIndexOf(page);
        WorkingSet?.Record(fileIndex);
        _lastFaultAt = Stopwatch.GetTimestamp();

        if (Staging.IsPresent(fileIndex))
        {
            var copied = CopyOrWake(uffd, region, pageAddress, Staging.AddressOf(fileIndex));
            if (copied)
            {
                region.CopiedFromStagingPages++;
            }

            Staging.Release(fileIndex);
            return new(copied ? FaultSource.Staging : FaultSource.AlreadyIn);
        }

        if (File.IsPresent(fileIndex))
        {
            return ServeFromFile(uffd, region, fileIndex, pageAddress, readPages, mayWait);
        }

        try
        {
            uffd.ZeroPage(pageAddress, (ulong)PageSize.Bytes, wake: true);
            region.ZeroedPages++;
            return new(FaultSource.Zero);
        }
        catch (UffdPageExistsException)
        {
            // EEXIST does not wake the faulting thread.
            uffd.Wake(pageAddress, (ulong)PageSize.Bytes);
            region.RedundantPages++;
            return new(FaultSource.AlreadyIn);
        }
    }

    /// <summary>
    /// Takes back a read <see cref="HandlePageFault(Userfaultfd, ulong, int)"/> returned, once it has run (or failed:
    /// <paramref name="succeeded"/> false), and returns the faults parked on it: serve each again
    /// (its page may have been staged, removed or swapped in meanwhile). After a failed read, serve
    /// them with no read (readPages 0), so the disk's error reaches the fault that needs the page.
    /// </summary>
    public IReadOnlyList<ParkedFault> CompleteFaultRead(FaultRead read, bool succeeded)
    {
        ArgumentNullException.ThrowIfNull(read);
        return FaultReads.Complete(read, succeeded);
    }

    /// <summary>Drops the faults of <paramref name="uffd"/> waiting for fault reads: its process is gone.</summary>
    public void ForgetFaultsOf(Userfaultfd uffd) => FaultReads.Forget(uffd);

    /// <summary>
    /// Takes the faults of <paramref name="uffd"/> waiting for fault reads, to serve them before it
    /// is detached: once unregistered, a woken thread of its process would find the page's hole and
    /// the kernel would fill it with zeros, in the guest's own memory, while the page's bytes are
    /// still here. Serve each with <see cref="HandlePageFaultNow"/>.
    /// </summary>
    public IReadOnlyList<ParkedFault> TakeFaultsOf(Userfaultfd uffd) => FaultReads.Take(uffd);

    /// <summary>
    /// Ends every fault read before the page state goes (Disable, a stop): see
    /// <see cref="FaultReads.Close"/>. Serve the faults returned with no read (readPages 0).
    /// </summary>
    public (IReadOnlyList<ParkedFault> Parked, bool Safe) CloseFaultReads(TimeSpan timeout) => FaultReads.Close(timeout);

    /// <summary>Frees what served faults left behind: released staging pages and swap-file pages read through its mapping.</summary>
    public void FlushServed()
    {
        Staging.FlushReleased();
        File.UnmapReads();
    }

    /// <summary>What <see cref="FlushServed"/> would free.</summary>
    public int ServedPendingFlush => Staging.ReleasedPages + File.MappedReads;

    /// <summary>
    /// <see cref="HandlePageRemove(ulong, ulong)"/> for a range that a process mapping the guest as
    /// <paramref name="layout"/> says removed, in its own addresses (it may cross regions that are
    /// adjacent there). The whole span must lie in guest regions; nothing changes otherwise.
    /// </summary>
    public void HandlePageRemove(GuestLayout layout, ulong start, ulong end)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!PageSize.IsAligned(start) || !PageSize.IsAligned(end) || end < start)
        {
            throw new InvalidGuestAddressException(PageSize.IsAligned(start) ? end : start, "a removed range must be page-aligned, its end after its start");
        }

        foreach (var (hostStart, hostEnd) in layout.ToHostRanges(start, end))
        {
            HandlePageRemove(hostStart, hostEnd);
        }
    }

    /// <summary>
    /// Forgets the pages of [<paramref name="start"/>, <paramref name="end"/>) after the guest freed
    /// them (a balloon's MADV_REMOVE): their staging copies and swap-file blocks are dropped, so
    /// their next touch is a zero page. The whole span must lie in guest regions; nothing changes
    /// otherwise.
    /// </summary>
    public void HandlePageRemove(ulong start, ulong end)
    {
        if (!PageSize.IsAligned(start))
        {
            throw new InvalidGuestAddressException(start, "a removed range must start on a page boundary");
        }

        if (!PageSize.IsAligned(end) || end < start)
        {
            throw new InvalidGuestAddressException(end, "a removed range must end on a page boundary after its start");
        }

        var pages = new PageRange(PageSize.AddressToPageIndex(start), PageSize.AddressToPageIndex(end));
        long covered = 0;
        foreach (var region in _regions)
        {
            covered += pages.Intersect(region.GuestPages).Count;
        }

        if (covered != pages.Count)
        {
            var uncovered = FirstUncovered(pages);
            throw new InvalidGuestAddressException(PageSize.PageIndexToAddress(uncovered), $"the removed range 0x{start:X}..0x{end:X} leaves the guest regions");
        }

        foreach (var region in _regions)
        {
            var part = pages.Intersect(region.GuestPages);
            if (!part.IsEmpty)
            {
                var inFile = part.Offset(region.FilePageOffset - region.GuestPages.Start);
                Staging.ClearRange(inFile);
                File.FreeRange(inFile);
            }
        }
    }

    /// <summary>
    /// Plans the move of every resident page of the region starting at <paramref name="baseAddress"/>
    /// to staging. Resident pages are found with SEEK_DATA / SEEK_HOLE on the guest memfd; batches
    /// span at most one huge page each and never free part of a huge page. Marks the pages staged
    /// and resets the region's fault counters; the caller executes every batch before the guest
    /// runs. The guest must be paused and the region registered with every userfaultfd first.
    /// </summary>
    public MoveToStagingPlan MoveToStaging(nint baseAddress)
    {
        var region = FindRegion(PageSize.AddressToPageIndex((ulong)baseAddress));
        if (region is null || region.Guest.HostAddress != baseAddress)
        {
            throw new InvalidGuestAddressException((ulong)baseAddress, "it is not the base address of a guest region");
        }

        ActiveSwapIn = null;

        // Re-staging must not meet staging memory a swap-out still holds or a free still pending.
        EndSwapOut();
        FlushDeferredFrees();
        var plan = new MoveToStagingPlanner(region, Staging).Plan();

        // A page resident in the guest while also present in the file was written behind the
        // handler (by a process whose mapping was not registered): the staged copy is the newest.
        for (var from = region.FilePageOffset; Staging.FirstDataRange(region.PageCount, from, region.FilePages.End) is { } staged; from = staged.End)
        {
            File.ClearRange(staged);
        }

        region.ResetCounters();
        return plan;
    }

    /// <summary>
    /// Plans the write of the first runs of staged pages, at most <paramref name="maxBytes"/> of
    /// them in all; null when staging is empty. Execute it on any thread, then pass it to
    /// <see cref="CompleteSwapOut"/>; plan nothing else that writes staging meanwhile.
    /// </summary>
    /// <remarks>
    /// Several runs to a write, not one: a guest's resident memory is fragmented (the demo's guest
    /// staged runs of 40 KiB at the median), and each write costs a round trip from the page
    /// worker through the job and back, about 0.9 ms here, far more than writing 40 KiB.
    /// </remarks>
    public SwapOutWrite? PlanSwapOut(ulong maxBytes)
    {
        ActiveSwapIn = null;
        var maxPages = MaxPages(maxBytes);
        var runs = new List<PageRange>();
        long pages = 0;
        for (var from = 0L; pages < maxPages && Staging.FirstDataRange(maxPages - pages, from) is { } run; from = run.End)
        {
            runs.Add(run);
            pages += run.Count;
        }

        if (runs.Count == 0)
        {
            return null;
        }

        var durable = _notDurablePages >= DurableBatchPages ? TakeNotDurable() : [];
        return new SwapOutWrite(File, runs, Staging.MemFd, Copies?.Plan(runs, Staging.PresentPages), Deferred.Take(), new DurableFrees(Staging, File, durable));
    }

    /// <summary>Plans the flush that ends a swap-out, carrying the staging frees still deferred and every written run not yet synced.</summary>
    public SwapFileFlush PlanSwapOutFlush() => new(File, Deferred.Take(), new DurableFrees(Staging, File, TakeNotDurable()));

    /// <summary>
    /// Plans a swap-out's next step: the write of the first run of staged pages (at most
    /// <paramref name="maxBytes"/>), or the flush once staging is empty. Execute it on any thread,
    /// then pass it to <see cref="CompleteSwapOutStep"/>.
    /// </summary>
    public SwapOutStep PlanSwapOutStep(ulong maxBytes) => PlanSwapOut(maxBytes) ?? (SwapOutStep)PlanSwapOutFlush();

    /// <summary>Records an executed swap-out step; returns the pages it moved to the file (none for the flush).</summary>
    public long CompleteSwapOutStep(SwapOutStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return step.Complete(this);
    }

    /// <summary>
    /// Stages again the pages of <paramref name="frees"/> that are still present in the file: their
    /// sync failed, so the file may not hold them, but their staging memory was never freed. They
    /// leave the file (and its on-disk set, so trim never takes unsynced bytes for a clean copy);
    /// the memory of the rest of the runs (pages faulted back or removed since) is freed with the
    /// job's next work. Returns the pages staged again.
    /// </summary>
    public long RestoreNotDurable(DurableFrees frees)
    {
        ArgumentNullException.ThrowIfNull(frees);
        long restored = 0;
        foreach (var range in frees.Ranges)
        {
            restored += Restore(range);
        }

        return restored;
    }

    /// <summary>
    /// A swap-out is over (finished, aborted or dead): stages again what it wrote but never synced,
    /// so nothing depends on unsynced bytes once other work may change staging. Returns the pages
    /// staged again.
    /// </summary>
    public long EndSwapOut()
    {
        Copies?.EndSwapOut();
        long restored = 0;
        foreach (var range in TakeNotDurable())
        {
            restored += Restore(range);
        }

        return restored;
    }

    /// <summary>
    /// Frees, on this thread, what job work dropped and has not freed yet. A job's end calls it
    /// (finished or aborted) before anything can be staged or written again.
    /// </summary>
    public void FlushDeferredFrees() => Deferred.Take().Execute();

    /// <summary>
    /// Records an executed write: its slots hold bytes on disk, the pages still staged become
    /// present in the file and leave staging. Returns those pages. Pages faulted back or removed
    /// while the write ran stay out of the file's present set.
    /// </summary>
    public long CompleteSwapOut(SwapOutWrite write)
    {
        ArgumentNullException.ThrowIfNull(write);
        long written = 0;
        foreach (var run in write.Runs)
        {
            File.MarkWritten(run);
            for (var from = run.Start; Staging.FirstDataRange(run.Count, from, run.End) is { } staged; from = staged.End)
            {
                File.MarkRangeAsPresent(staged);
                written += staged.Count;
            }
        }

        if (write.Copies is { } copies)
        {
            Copies!.Complete(copies);
        }

        foreach (var run in write.Runs)
        {
            // Over the whole run: a page freed while the write read it may have been faulted back
            // in as a zero page. The memory goes off this thread once the file is synced.
            Staging.Forget(run);
            _notDurable.Add(run);
            _notDurablePages += run.Count;
        }

        return written;
    }

    /// <summary>
    /// Starts a swap-in, of the working set's pages first when the handler records one; dispose the
    /// context when done or aborted to free its read buffers.
    /// </summary>
    public SwapInContext StartSwapIn()
    {
        // Pages written but never synced come back from their staging copies, not from the file.
        EndSwapOut();
        return ActiveSwapIn = new SwapInContext(this, WorkingSet, onlyFirst: false);
    }

    /// <summary>
    /// Starts a prefetch: a swap-in of the working set's pages only (staging, then the file), done
    /// once they are all in; swap stays enabled for the rest. Needs a working set.
    /// </summary>
    public SwapInContext StartPrefetch()
    {
        var workingSet = WorkingSet ?? throw new InvalidOperationException("a prefetch needs the working set, and this handler records none");
        EndSwapOut();
        return ActiveSwapIn = new SwapInContext(this, workingSet, onlyFirst: true);
    }

    /// <summary>Starts a trim of staging.</summary>
    public TrimContext StartTrim()
    {
        ActiveSwapIn = null;
        EndSwapOut();
        return new(this);
    }

    /// <summary>Guest pages resident in RAM, counted from the guest memfds' data ranges.</summary>
    public long ResidentPages() => _regions.Sum(r => r.Guest.ResidentPages());

    /// <summary>The current page counts.</summary>
    public SwapMetrics Metrics() => Counters() with { ResidentPages = ResidentPages() };

    /// <summary>
    /// The page counts the handler keeps itself, at no cost (one pass over the regions: the runtime
    /// publishes them after every message it handles, fault batches included); resident pages
    /// (asked of the kernel, see <see cref="GuestRegion.ResidentPages"/>) are left 0 for the caller
    /// to fill in.
    /// </summary>
    public SwapMetrics Counters()
    {
        long file = 0, staging = 0, zeroed = 0, redundant = 0;
        foreach (var region in _regions)
        {
            file += region.CopiedFromFilePages;
            staging += region.CopiedFromStagingPages;
            zeroed += region.ZeroedPages;
            redundant += region.RedundantPages;
        }

        return new(0, file, staging, zeroed, redundant, Staging.PresentPages, File.PresentPages);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Staging.Dispose();
        File.Dispose();
    }

    // A page a swap-in or an earlier fault read has loaded comes from that buffer; one in the page
    // cache from the file's mapping (no disk to wait for); any other waits for a read off this
    // thread when readPages allows, or is read here through the mapping.
    // A parked fault keeps the page's address in uffd's process: served again as it was reported.
    private FaultServed ServeFromFile(Userfaultfd uffd, PageHandlerRegion region, long fileIndex, nint pageAddress, int readPages, bool mayWait)
    {
        var read = FaultReads.Find(fileIndex);
        if (read is { Loaded: false } && mayWait)
        {
            read.Park(new ParkedFault(uffd, (ulong)pageAddress, Stopwatch.GetTimestamp()));
            return new(FaultSource.Parked);
        }

        // A read still loading (met only when this fault may not wait for it) holds no bytes yet.
        var buffered = ActiveSwapIn?.BufferedAddressOf(fileIndex) ?? (read is { Loaded: true } ? read.AddressOf(fileIndex) : null);
        if (buffered is null && readPages > 0)
        {
            if (!File.IsCached(fileIndex))
            {
                return new(FaultSource.Parked, FaultReads.Plan(fileIndex, readPages, new ParkedFault(uffd, (ulong)pageAddress, Stopwatch.GetTimestamp()), swapInStreams: ActiveSwapIn is not null));
            }

            FaultReads.Hit();
        }

        var copied = CopyOrWake(uffd, region, pageAddress, buffered ?? File.AddressOf(fileIndex));
        if (copied)
        {
            region.CopiedFromFilePages++;
        }

        if (buffered is null)
        {
            File.ReleaseMapped(fileIndex);
        }

        // The bytes stay on disk so trim can spot the page unchanged on the next cycle; the page
        // leaving the file also takes it out of any fault read's buffer.
        File.ClearRange(new PageRange(fileIndex, fileIndex + 1));
        return new(copied ? FaultSource.File : FaultSource.AlreadyIn);
    }

    // True when the page was copied in; false when it was already there. A page can only be there
    // while this handler still holds a copy if another process put it there (a process forked or
    // attached while enabled, or one whose mapping is not registered): what is in memory is the
    // newest, so the copy held here is dropped. EEXIST does not wake the waiter.
    internal static bool CopyOrWake(Userfaultfd uffd, PageHandlerRegion region, nint pageAddress, nint source)
    {
        try
        {
            uffd.Copy(pageAddress, source, (ulong)PageSize.Bytes, wake: true);
            return true;
        }
        catch (UffdPageExistsException)
        {
            uffd.Wake(pageAddress, (ulong)PageSize.Bytes);
            region.RedundantPages++;
            return false;
        }
    }

    /// <summary>Staging pages written but not yet synced after which the next write syncs first: 64 MiB bounds what a swap-out holds twice.</summary>
    internal const long DurableBatchPages = 16384;

    internal static long MaxPages(ulong maxBytes)
    {
        var pages = PageSize.BytesToPages(maxBytes);
        return pages > 0 ? pages : throw new ArgumentOutOfRangeException(nameof(maxBytes), $"a chunk of {maxBytes} bytes holds no whole page");
    }

    internal IReadOnlyList<PageHandlerRegion> HandledRegions => _regions;

    internal PageHandlerRegion? FindRegionOfFilePage(long fileIndex) =>
        Array.Find(_regions, r => fileIndex >= r.FilePageOffset && fileIndex < r.FilePageOffset + r.PageCount);

    // A few regions (usually one or two): a linear scan beats anything cleverer. A plain loop,
    // because this runs on every fault and a capturing lambda would allocate each time.
    private PageHandlerRegion? FindRegion(long guestPage)
    {
        foreach (var region in _regions)
        {
            if (region.GuestPages.Start <= guestPage && guestPage < region.GuestPages.End)
            {
                return region;
            }
        }

        return null;
    }

    private List<PageRange> TakeNotDurable()
    {
        var taken = new List<PageRange>(_notDurable);
        _notDurable.Clear();
        _notDurablePages = 0;
        return taken;
    }

    // The sync that would have made the run durable failed: its pages still present in the file
    // are staged again, and every page of it leaves the file's on-disk set too (a page faulted
    // back meanwhile keeps an on-disk mark trim would take for a clean copy of unsynced bytes).
    private long Restore(PageRange range)
    {
        var present = new List<PageRange>();
        for (var from = range.Start; File.NextDataRange(from, range.End) is { } run; from = run.End)
        {
            present.Add(run);
        }

        long restored = 0;
        var gapStart = range.Start;
        foreach (var run in present)
        {
            Deferred.AddStaging(new PageRange(gapStart, run.Start));
            Staging.Restore(run);
            restored += run.Count;
            gapStart = run.End;
        }

        Deferred.AddStaging(new PageRange(gapStart, range.End));
        foreach (var onDisk in File.Forget(range))
        {
            Deferred.AddFile(onDisk);
        }

        return restored;
    }

    private long FirstUncovered(PageRange pages)
    {
        for (var page = pages.Start; page < pages.End; page++)
        {
            if (FindRegion(page) is null)
            {
                return page;
            }
        }

        return pages.End;
    }
}
