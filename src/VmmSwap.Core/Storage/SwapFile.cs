using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Rings;

namespace VmmSwap.Core.Storage;

/// <summary>
/// The swap file: an O_TMPFILE in the swap directory, one slot per guest page, mapped read-only
/// for reads. A page is absent, present, or cleared-but-still-on-disk: a page faulted back into
/// the guest keeps its bytes on disk so that trim can later recognise it as unchanged and skip
/// writing it again. Past ~300 lines because the slot states, their disk blocks and the mapping
/// read through change together (a write, a clear, a punched hole, an unmap of faulted reads),
/// and split apart each would have to know the others' invariants.
/// </summary>
public sealed unsafe class SwapFile : IDisposable
{
    private readonly SafeFd _fd;
    private readonly MemoryMapping _mapping;
    private readonly PresentList _present;
    private readonly PresentList _onDisk;
    private readonly FaultReadsFirst _faultReads = new();
    private readonly SwapInStream _stream;

    private readonly SwapFileWriter _writer;

    private const int RetainedMappedReads = 256;

    // Slots read through the mapping since the last UnmapReads; see ReleaseMapped.
    private readonly List<long> _mappedReads = [];

    // Held by a read-around for its calls, and by Dispose to end them (ReadAround).
    private readonly Lock _lifetime = new();
    private bool _disposed;

    /// <summary>Creates a swap file for <paramref name="pages"/> pages in <paramref name="directory"/>.</summary>
    public SwapFile(string directory, long pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        _fd = TmpFile.Create(directory);
        try
        {
            // Sized up front: reading past the end of a mapped file is SIGBUS.
            FileOps.Truncate(_fd, (long)PageSize.PagesToBytes(pages));
            _mapping = MemoryMapping.MapShared(_fd, 0, PageSize.PagesToBytes(pages), writable: false);
            _stream = new SwapInStream(_fd, _faultReads, SwapInStream.GiveWayLimit);
            _writer = new SwapFileWriter(_fd);
        }
        catch
        {
            _stream?.Dispose();
            _mapping?.Dispose();
            _fd.Dispose();
            _faultReads.Dispose();
            throw;
        }

        _present = new PresentList(pages);
        _onDisk = new PresentList(pages);
    }

    /// <summary>Page slots in the file.</summary>
    public long Length => _present.Length;

    /// <summary>
    /// Slots past the guest's (from <see cref="Length"/> on) that may hold working-set copies
    /// (<see cref="WorkingSetCopies"/>): a quarter of the guest at most, since copying more would
    /// add a quarter of the guest to every swap-out's writes. The area takes disk only as copies
    /// are written, and gives it back when the next generation starts (or the file goes).
    /// </summary>
    public long CopyAreaPages => Math.Max(1, Length / 4);

    /// <summary>Pages present (swapped out and not yet brought back).</summary>
    public long PresentPages => _present.Count;

    /// <summary>The file's descriptor, for measuring its size on disk and in the page cache.</summary>
    public SafeFd Fd => _fd;

    /// <summary>Writes whole pages at slot <paramref name="index"/> and marks them present.</summary>
    public void WriteToFile(long index, ReadOnlySpan<byte> pages)
    {
        if (pages.Length == 0 || !PageSize.IsAligned((ulong)pages.Length))
        {
            throw new ArgumentException($"swap file writes must be whole pages, got {pages.Length} bytes", nameof(pages));
        }

        var range = new PageRange(index, index + PageSize.BytesToPages((ulong)pages.Length));
        CheckRange(range);
        FileOps.WriteAll(_fd, pages, (long)PageSize.PagesToBytes(index));
        MarkWritten(range);
        _present.MarkRangeAsPresent(range);
    }

    /// <summary>
    /// Writes the pages of <paramref name="runs"/> from <paramref name="staging"/> (a file indexed
    /// by swap-file page, as staging's memfd is) to their slots, then the working-set copies of
    /// <paramref name="copies"/> (see <see cref="WorkingSetCopyPlan.Written"/> and
    /// <see cref="WorkingSetCopyPlan.Failure"/>: a copy that cannot be written fails nothing), and
    /// starts their writeback; changes no page state, so it may run off the owner's thread. The
    /// owner then records the result with <see cref="MarkWritten"/> and <see cref="MarkRangeAsPresent"/>.
    /// </summary>
    /// <remarks>With sendfile, through <see cref="SwapFileWriter"/>, which says why.</remarks>
    public void WritePages(IReadOnlyList<PageRange> runs, SafeFd staging, WorkingSetCopyPlan? copies = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        foreach (var run in runs)
        {
            CheckRange(run);
        }

        if (copies is not null)
        {
            CheckReadable(new PageRange(copies.FirstSlot, copies.FirstSlot + copies.Count));
            if (copies.StaleArea is { } stale)
            {
                CheckReadable(stale);
            }
        }

        _writer.Write(runs, staging, copies);
    }

    /// <summary>Starts a new generation of the copy area (see <see cref="WorkingSetCopies"/>); returns it.</summary>
    internal long StartCopyGeneration() => _writer.StartGeneration();

    /// <summary>Records that the slots of <paramref name="range"/> hold bytes on disk (not that they are present).</summary>
    public void MarkWritten(PageRange range)
    {
        CheckRange(range);
        _onDisk.MarkRangeAsPresent(range);
    }

    /// <summary>Marks slots whose bytes are on disk as present.</summary>
    public void MarkRangeAsPresent(PageRange range)
    {
        CheckRange(range);
        if (_onDisk.CountIn(range) != range.Count)
        {
            throw new InvalidOperationException($"swap file pages {range} are not all on disk; only written pages can be present");
        }

        _present.MarkRangeAsPresent(range);
    }

    /// <summary>Whether slot <paramref name="index"/> holds bytes on disk (present, or cleared but kept for trim).</summary>
    public bool IsOnDisk(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        return _onDisk.Get(index);
    }

    /// <summary>
    /// The bytes of slot <paramref name="index"/> when present, or when only cleared and
    /// <paramref name="allowCleared"/>; otherwise an empty span.
    /// </summary>
    public ReadOnlySpan<byte> PageContent(long index, bool allowCleared)
    {
        CheckRange(new PageRange(index, index + 1));
        var available = allowCleared ? _onDisk.Get(index) : _present.Get(index);
        return available ? new ReadOnlySpan<byte>((void*)AddressOf(index), PageSize.Bytes) : default;
    }

    /// <summary>The file's bytes for <paramref name="range"/>, through the read-only mapping.</summary>
    public ReadOnlySpan<byte> GetSlice(PageRange range)
    {
        CheckRange(range);
        return new ReadOnlySpan<byte>((void*)AddressOf(range.Start), checked((int)PageSize.PagesToBytes(range.Count)));
    }

    /// <summary>
    /// Reads the slots of <paramref name="range"/> (present or not) into native memory at
    /// <paramref name="destination"/> with one pread, for a fault: a swap-in's reads wait while it
    /// runs (<see cref="StreamInto"/>), so it does not queue at the disk behind them.
    /// </summary>
    public void ReadInto(PageRange range, nint destination)
    {
        CheckRange(range);
        _faultReads.Enter();
        try
        {
            FileOps.ReadExactly(_fd, destination, PageSize.PagesToBytes(range.Count), (long)PageSize.PagesToBytes(range.Start));
        }
        finally
        {
            _faultReads.Exit();
        }
    }

    /// <summary>
    /// Starts reading the slots of <paramref name="range"/> into native memory at
    /// <paramref name="destination"/> on <paramref name="ring"/>, tagged <paramref name="tag"/>,
    /// for a fault, without waiting for it: as <see cref="ReadInto"/>, a swap-in's reads wait
    /// until <see cref="EndRead"/> says it has completed.
    /// </summary>
    public void StartRead(IoUring ring, PageRange range, nint destination, ulong tag)
    {
        ArgumentNullException.ThrowIfNull(ring);
        CheckRange(range);
        _faultReads.Enter();
        try
        {
            ring.SubmitRead(_fd, destination, checked((uint)PageSize.PagesToBytes(range.Count)), (long)PageSize.PagesToBytes(range.Start), tag);
        }
        catch
        {
            _faultReads.Exit();
            throw;
        }
    }

    /// <summary>A read <see cref="StartRead"/> started has completed, whatever its result.</summary>
    public void EndRead() => _faultReads.Exit();

    /// <summary>
    /// Reads the slots of <paramref name="range"/> (present or not, or of the copy area) into page-aligned native memory
    /// at <paramref name="destination"/>, for a swap-in: sequential pieces that give way to fault
    /// reads (<see cref="SwapInStream"/>), so a run of pages costs a few large reads instead of a
    /// fault per page of the mapping, and a fault still finds the disk free.
    /// </summary>
    public void StreamInto(PageRange range, nint destination)
    {
        CheckReadable(range);
        _stream.Read(range, destination);
    }

    /// <summary>
    /// A fault read's read-around, once its faults are answered; safe on any thread: unmaps and
    /// drops the page cache of <paramref name="drop"/> (an older block, so the cache faults leave
    /// stays bounded; a page left mapped, by the kernel's fault-around too, would survive the drop),
    /// then starts reading <paramref name="ahead"/> into the page cache without waiting. Nothing
    /// once the file is disposed, which waits for one under way: it runs outside the read's own
    /// lifetime, and the descriptor's number or the mapping's addresses may be another's by then.
    /// </summary>
    public void ReadAround(PageRange? drop, PageRange ahead)
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            if (drop is { } old)
            {
                UnmapRange(old);
                DropCache(old);
            }

            if (!ahead.IsEmpty)
            {
                CheckRange(ahead);
                FileOps.ReadAhead(_fd, (long)PageSize.PagesToBytes(ahead.Start), (long)PageSize.PagesToBytes(ahead.Count));
            }
        }
    }

    /// <summary>Drops the page cache of <paramref name="range"/> once its pages are back in the guest, so they are not held twice.</summary>
    public void DropCache(PageRange range)
    {
        CheckReadable(range);
        FileOps.DropCachedRange(_fd, (long)PageSize.PagesToBytes(range.Start), (long)PageSize.PagesToBytes(range.Count));
    }

    /// <summary>The mapped address of slot <paramref name="index"/>, for UFFDIO_COPY.</summary>
    public nint AddressOf(long index) => _mapping.Address + (nint)PageSize.PagesToBytes(index);

    /// <summary>
    /// Records that slot <paramref name="index"/> was read through the mapping (a fault copied it
    /// from there). A mapped page-cache page survives POSIX_FADV_DONTNEED, so the host would
    /// never get it back; <see cref="UnmapReads"/> drops the mapping's entries later, in runs,
    /// so the fault path pays no madvise per page.
    /// </summary>
    public void ReleaseMapped(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        _mappedReads.Add(index);
    }

    /// <summary>Slots read through the mapping and not yet unmapped.</summary>
    public int MappedReads => _mappedReads.Count;

    /// <summary>Drops the mapping's page-table entries of every slot recorded with <see cref="ReleaseMapped"/>, a madvise per run.</summary>
    public void UnmapReads()
    {
        if (_mappedReads.Count == 0)
        {
            return;
        }

        foreach (var run in PageRuns.Coalesce(_mappedReads))
        {
            UnmapRange(run);
        }

        _mappedReads.Clear();

        // A burst of faults must not keep its list's memory for the rest of the run.
        if (_mappedReads.Capacity > RetainedMappedReads)
        {
            _mappedReads.Capacity = RetainedMappedReads;
        }
    }

    /// <summary>
    /// Drops the mapping's page-table entries of <paramref name="range"/> (MADV_DONTNEED): the bytes
    /// stay in the file and its page cache, but the cache pages are no longer mapped, so dropping
    /// the cache frees them. Safe on any thread; a later read through the mapping maps them again.
    /// </summary>
    public void UnmapRange(PageRange range)
    {
        CheckRange(range);
        if (!range.IsEmpty)
        {
            _mapping.Advise(PageSize.PagesToBytes(range.Start), PageSize.PagesToBytes(range.Count), MemoryAdvice.DontNeed);
        }
    }

    /// <summary>
    /// Called with every range whose pages leave the present set, before anything can write their
    /// slots again: a copy of a slot read earlier is no longer the page's (see FaultReads).
    /// </summary>
    internal Action<PageRange>? Leaving { get; set; }

    /// <summary>Takes the pages of <paramref name="range"/> out of the present set but keeps their bytes on disk for trim.</summary>
    public void ClearRange(PageRange range)
    {
        CheckRange(range);
        _present.ClearRange(range);
        Leaving?.Invoke(range);
    }

    /// <summary>Whether slot <paramref name="index"/> is in the page cache, so reading it waits for no disk (mincore).</summary>
    public bool IsCached(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        return _mapping.IsResident(PageSize.PagesToBytes(index));
    }

    /// <summary>Forgets the pages of <paramref name="range"/> and punches their blocks out of the file.</summary>
    public void FreeRange(PageRange range)
    {
        foreach (var onDisk in Forget(range))
        {
            PunchHoles(onDisk);
        }
    }

    /// <summary>
    /// Forgets the pages of <paramref name="range"/> (present or only on disk) and returns the runs
    /// that held bytes on disk, for <see cref="PunchHoles"/> now or later.
    /// </summary>
    internal List<PageRange> Forget(PageRange range)
    {
        CheckRange(range);
        var runs = new List<PageRange>();
        for (var i = _onDisk.NextSet(range.Start, range.End); i >= 0;)
        {
            var end = _onDisk.NextClear(i, range.End);
            runs.Add(new PageRange(i, end));
            i = _onDisk.NextSet(end, range.End);
        }

        _present.ClearRange(range);
        _onDisk.ClearRange(range);
        Leaving?.Invoke(range);
        return runs;
    }

    /// <summary>Punches the slots of <paramref name="range"/> out of the file; safe on any thread.</summary>
    internal void PunchHoles(PageRange range)
    {
        CheckRange(range);
        if (!range.IsEmpty)
        {
            FileOps.PunchHole(_fd, (long)PageSize.PagesToBytes(range.Start), (long)PageSize.PagesToBytes(range.Count));
        }
    }

    /// <summary>Marks a cleared page whose bytes are still on disk as present again.</summary>
    public void MarkAsPresent(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        if (!_onDisk.Get(index))
        {
            throw new InvalidOperationException($"swap file page {index} has no bytes on disk to mark present");
        }

        _present.MarkAsPresent(index);
    }

    /// <summary>Flushes the file and drops it from the page cache: after a swap-out the host gets that RAM back at once.</summary>
    public void ReleasePageCache() => FileOps.DropPageCache(_fd);

    /// <summary>Writes the file's dirty pages to disk; throws if any write since the last sync failed at writeback.</summary>
    public void Sync() => FileOps.DataSync(_fd);

    /// <summary>Whether slot <paramref name="index"/> is present.</summary>
    public bool IsPresent(long index) => _present.Get(index);

    /// <summary>The first run of present pages, at most <paramref name="maxPages"/> long; null when none.</summary>
    public PageRange? FirstDataRange(long maxPages) => _present.FirstDataRange(maxPages);

    /// <summary>The first run of present pages at or after <paramref name="from"/>, clipped to end before <paramref name="limit"/>; null when none.</summary>
    public PageRange? NextDataRange(long from, long limit)
    {
        var first = _present.NextSet(from, limit);
        if (first < 0 || first >= limit)
        {
            return null;
        }

        return new PageRange(first, _present.NextClear(first, Math.Min(limit, Length)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lifetime)
        {
            _disposed = true;
        }

        _stream.Dispose();
        _writer.Dispose();
        _mapping.Dispose();
        _fd.Dispose();
        _faultReads.Dispose();
    }

    // The guest's slots and the copy area past them.
    private void CheckReadable(PageRange range)
    {
        if (range.Start < 0 || range.End > Length + CopyAreaPages || range.Start > range.End)
        {
            throw new ArgumentOutOfRangeException(nameof(range), $"swap file pages {range} are outside [0, {Length + CopyAreaPages}) (slots and copy area)");
        }
    }

    private void CheckRange(PageRange range)
    {
        if (range.Start < 0 || range.End > Length || range.Start > range.End)
        {
            throw new ArgumentOutOfRangeException(nameof(range), $"swap file pages {range} are outside [0, {Length})");
        }
    }
}
