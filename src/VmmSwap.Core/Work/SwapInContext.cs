using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Core.Work;

/// <summary>
/// A swap-in in progress: brings pages back into the guest step by step, staging first, then the
/// swap file. The file is read a window at a time into a bounce buffer (<see cref="SwapInRead"/>,
/// which may run on another thread, up to <see cref="ReadsAhead"/> windows ahead of the copies,
/// and gives way to fault reads), then each present run of the window is copied in with
/// UFFDIO_COPY, a bounded step at a time, so a fault waits at most one step and a window
/// fragmented by trim costs one sequential read rather than a fault per page of the file mapping.
/// A window's page cache is dropped once its pages are in the guest. Dispose frees the buffers;
/// no read may be running then.
/// </summary>
/// <remarks>
/// crosvm copies straight from the file mapping and keeps read-ahead ahead of it by mlocking up
/// to 16 MiB of the mapping. Reading into a buffer, directly, pins no pages, leaves no cached copy
/// of a page that is back in the guest, and keeps the kernel's read-ahead from queueing megabytes
/// at the disk in front of a fault's read. One file past
/// the usual length: the buffers, the window cursor and the copy steps share state that a
/// split would have to hand back and forth on every step.
/// </remarks>
public sealed class SwapInContext : IDisposable
{
    /// <summary>
    /// Windows planned past the one being copied. With one, the disk waited for each next read to
    /// be planned on the fault thread and started on a page worker: at 1 GiB those gaps added up
    /// to 0.30-0.52 s of a 1.35-1.8 s swap-in (docs/BENCHMARKS.md). With two, one read is always
    /// queued at the disk.
    /// </summary>
    public const int ReadsAhead = 2;

    private readonly PageHandler _handler;

    // One buffer for the window being copied, one for each window planned ahead of it.
    private readonly MemoryMapping?[] _buffers = new MemoryMapping?[ReadsAhead + 1];

    // The windows planned ahead, in file order, each with whether its read came back.
    private readonly List<(SwapInRead Read, bool Loaded)> _ahead = [];
    private int _stagingRegion;

    // While the working set goes first, where the staging scan goes on from: staged pages outside
    // it stay behind, and scanning past them again on every step would cost the fault thread.
    private long _stagingFrom;
    private SwapInRead? _loaded;
    private PageHandlerRegion? _loadedOwner;
    private long _loadedNext;
    private long _readCursor;
    private PageRange? _lastWindow;

    // While set, only its pages are brought in (staging, then the file); then the rest, from the
    // start, unless only the working set is wanted (a prefetch).
    private WorkingSet? _first;
    private readonly bool _onlyFirst;

    // While the working set goes first, its copies are read before its own slots; the next area
    // slot to read.
    private readonly WorkingSetCopies? _copies;
    private long _copiesCursor;

    internal SwapInContext(PageHandler handler, WorkingSet? first, bool onlyFirst)
    {
        _handler = handler;
        _first = first;
        _onlyFirst = onlyFirst;
        _copies = first is null ? null : handler.Copies;
    }

    /// <summary>Whether a planned read has not been handed back with <see cref="Loaded"/> yet.</summary>
    public bool ReadPending => _ahead.Exists(a => !a.Loaded);

    /// <summary>
    /// Brings the next pages in, reading on this thread: a step of <see cref="CopyStep"/>, reading
    /// the next window (of <paramref name="maxBytes"/>) first when the step found nothing loaded.
    /// The one synchronous swap-in, for a runtime stopped while enabled: it has no page worker left
    /// to read for it (the running runtime's swap-in reads on one, see the Actors' SwapInDriver;
    /// tests drive this one). Returns the
    /// pages brought in; 0 when nothing is left outside the guest. While a remove event is pending
    /// it returns the pages done before the refusal, or throws <see cref="UffdRetryException"/> if
    /// none: read events, then call again.
    /// </summary>
    public long SwapIn(Userfaultfd uffd, ulong maxBytes)
    {
        while (true)
        {
            var done = CopyStep(uffd, maxBytes);
            if (done > 0)
            {
                return done;
            }

            if (PlanRead(maxBytes) is not { } read)
            {
                return 0;
            }

            read.Execute();
            Loaded(read);
        }
    }

    /// <summary>
    /// Copies up to <paramref name="maxBytes"/> of pages into the guest through
    /// <paramref name="uffd"/>: staged runs first (never crossing a region), then present runs of
    /// the loaded window, moving on to the next window once it is loaded; the working set's pages
    /// first, when there is one, then the rest. Returns the pages
    /// copied; 0 when staging is empty and no loaded window has anything left: wait for a pending
    /// read, or plan one. Pages faulted in or removed since a window was read are skipped. Throws
    /// <see cref="UffdRetryException"/> while a remove event is pending and nothing was copied.
    /// </summary>
    public long CopyStep(Userfaultfd uffd, ulong maxBytes)
    {
        ArgumentNullException.ThrowIfNull(uffd);
        var done = CopyPhaseStep(uffd, maxBytes);
        if (done == 0 && _first is not null && !_onlyFirst && _ahead.Count == 0 && NextCopy() < 0 && FirstWindowStart() is null)
        {
            // The working set is in: now the rest, from the start (what is in is skipped).
            _first = null;
            _stagingRegion = 0;
            _stagingFrom = 0;
            _readCursor = 0;
            done = CopyPhaseStep(uffd, maxBytes);
        }

        return done;
    }

    private long CopyPhaseStep(Userfaultfd uffd, ulong maxBytes)
    {
        var maxPages = PageHandler.MaxPages(maxBytes);
        var regions = _handler.HandledRegions;
        for (; _stagingRegion < regions.Count; _stagingRegion++)
        {
            var done = FromStaging(uffd, regions[_stagingRegion], maxPages);
            if (done > 0)
            {
                return done;
            }
        }

        while (true)
        {
            var copied = _loaded is null ? 0 : IsCopies(_loaded.Window) ? FromCopies(uffd, maxPages) : FromLoaded(uffd, maxPages);
            if (copied > 0 || _ahead.Count == 0 || !_ahead[0].Loaded)
            {
                return copied;
            }

            Switch();
        }
    }

    /// <summary>
    /// Plans the read of the next window of <paramref name="maxBytes"/> of the swap file, from the
    /// first present slot after the windows already planned (while the working set goes first,
    /// its copies in the copy area, then runs of its present slots), never crossing a region; null
    /// when <see cref="ReadsAhead"/> reads are planned and not yet copied from, or no page is left
    /// to read. Execute it (on any thread, beside the other planned ones), then hand it to
    /// <see cref="Loaded"/>; windows are copied in the order they were planned.
    /// </summary>
    public SwapInRead? PlanRead(ulong maxBytes)
    {
        if (_ahead.Count >= ReadsAhead)
        {
            return null;
        }

        var maxPages = PageHandler.MaxPages(maxBytes);
        if (NextCopy() is var copy && copy >= 0)
        {
            // The copies in one sequential read; those that stopped serving are skipped when copied.
            // It ends at a copy that serves: slots after the last one written may lie past the
            // file's end (their write failed, and the area took no more copies).
            var copiesEnd = Math.Min(_copies!.Used, copy + maxPages);
            while (!_copies.IsValid(_copies.PageAt(copiesEnd - 1)))
            {
                copiesEnd--;
            }

            _copiesCursor = copiesEnd;
            return Plan(new PageRange(_copies.AreaStart + copy, _copies.AreaStart + copiesEnd));
        }

        var first = _first is null ? _handler.File.NextDataRange(_readCursor, long.MaxValue) : FirstWindowStart();
        if (first is null)
        {
            return null;
        }

        var owner = _handler.FindRegionOfFilePage(first.Value.Start)
            ?? throw new InvalidOperationException($"swap file page {first.Value.Start} belongs to no region");
        // A working-set window ends with its run (a slot past it is read in the rest's turn); any
        // other spans present and absent slots alike, for one sequential read.
        var end = _first is null ? first.Value.Start + maxPages : Math.Min(first.Value.Start + maxPages, first.Value.End);
        var window = new PageRange(first.Value.Start, Math.Min(end, owner.FilePages.End));
        _readCursor = window.End;
        return Plan(window);
    }

    private SwapInRead Plan(PageRange window)
    {
        var slot = 0;
        while (_loaded?.Buffer == slot || _ahead.Exists(a => a.Read.Buffer == slot))
        {
            slot++;
        }

        var read = new SwapInRead(_handler.File, window, slot, Buffer(slot, window.Count), _lastWindow, _handler.Deferred.Take());
        _ahead.Add((read, false));
        _lastWindow = window;
        return read;
    }

    /// <summary>
    /// Takes an executed read back, in any order; <see cref="CopyStep"/> copies from it once the
    /// windows planned before it are done.
    /// </summary>
    public void Loaded(SwapInRead read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var index = _ahead.FindIndex(a => ReferenceEquals(a.Read, read));
        if (index < 0 || _ahead[index].Loaded)
        {
            throw new InvalidOperationException($"the read of {read.Window} was not one planned and pending");
        }

        _ahead[index] = (read, true);
        if (_loaded is null && _ahead[0].Loaded)
        {
            Switch();
        }
    }

    /// <summary>
    /// The buffer address holding swap-file slot <paramref name="index"/> when a loaded window
    /// covers it, or holds its working-set copy while that copy serves; null otherwise. Valid for
    /// a page still present in the file: nothing writes the file during a swap-in, so the bytes
    /// read are its bytes.
    /// </summary>
    internal nint? BufferedAddressOf(long index)
    {
        if (_loaded is not null && AddressIn(_loaded, index) is { } address)
        {
            return address;
        }

        foreach (var (read, loaded) in _ahead)
        {
            if (loaded && AddressIn(read, index) is { } ahead)
            {
                return ahead;
            }
        }

        return null;
    }

    /// <summary>
    /// Stops serving faults from this swap-in's buffers: its job is over, and the file may be
    /// written again while a read still fills a buffer. The buffers stay until <see cref="Dispose"/>.
    /// </summary>
    public void StopServing()
    {
        if (ReferenceEquals(_handler.ActiveSwapIn, this))
        {
            _handler.ActiveSwapIn = null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        StopServing();

        if (_lastWindow is { } last)
        {
            try
            {
                _handler.File.DropCache(last);
            }
            catch (NativeCallException)
            {
                // Only page cache is at stake, and the file goes when swap is disabled.
            }
        }

        foreach (var buffer in _buffers)
        {
            buffer?.Dispose();
        }
    }

    private nint? AddressIn(SwapInRead read, long index)
    {
        if (read.Window.Contains(index))
        {
            return _buffers[read.Buffer]!.Address + (nint)PageSize.PagesToBytes(index - read.Window.Start);
        }

        if (IsCopies(read.Window) && _copies!.IsValid(index))
        {
            for (var slot = read.Window.Start; slot < read.Window.End; slot++)
            {
                if (_copies.PageAt(slot - _copies.AreaStart) == index)
                {
                    return _buffers[read.Buffer]!.Address + (nint)PageSize.PagesToBytes(slot - read.Window.Start);
                }
            }
        }

        return null;
    }

    private void Switch()
    {
        _loaded = _ahead[0].Read;
        _ahead.RemoveAt(0);
        _loadedOwner = IsCopies(_loaded.Window) ? null : _handler.FindRegionOfFilePage(_loaded.Window.Start);
        _loadedNext = _loaded.Window.Start;
    }

    // Runs of staged pages in one region, up to maxPages in all; their staging memory is freed in
    // one call over the span they cover (pages in it that were not staged are already free).
    private long FromStaging(Userfaultfd uffd, PageHandlerRegion region, long maxPages)
    {
        var staging = _handler.Staging;
        long done = 0;
        var spanStart = -1L;
        var spanEnd = -1L;
        try
        {
            for (var from = _first is null ? region.FilePageOffset : Math.Max(region.FilePageOffset, _stagingFrom); done < maxPages;)
            {
                if (NextStaged(maxPages - done, from, region.FilePages.End) is not { } run)
                {
                    break;
                }

                var copied = CopyIn(uffd, region, run, staging.AddressOf(run.Start), done);
                if (_first is not null)
                {
                    // Staged pages outside the working set lie between its runs: each run alone.
                    staging.ClearRange(new PageRange(run.Start, run.Start + copied));
                    region.SwapInPages += copied;
                    _stagingFrom = run.Start + copied;
                }
                else
                {
                    spanStart = spanStart < 0 ? run.Start : spanStart;
                    spanEnd = run.Start + copied;
                }

                done += copied;
                if (copied < run.Count)
                {
                    break;
                }

                from = run.End;
            }
        }
        finally
        {
            if (spanStart >= 0)
            {
                staging.ClearRange(new PageRange(spanStart, spanEnd));
                region.SwapInPages += done;
            }
        }

        return done;
    }

    private long FromLoaded(Userfaultfd uffd, long maxPages)
    {
        var file = _handler.File;
        var window = _loaded!.Window;
        var owner = _loadedOwner!;
        var buffer = _buffers[_loaded.Buffer]!.Address;
        long done = 0;
        try
        {
            while (done < maxPages && file.NextDataRange(_loadedNext, window.End) is { } present)
            {
                var run = new PageRange(present.Start, Math.Min(present.End, present.Start + maxPages - done));
                var source = buffer + (nint)PageSize.PagesToBytes(run.Start - window.Start);
                var copied = CopyIn(uffd, owner, run, source, done);

                // Bytes stay on disk: an aborted swap-in leaves them for trim's clean-page check.
                file.ClearRange(new PageRange(run.Start, run.Start + copied));
                done += copied;
                _loadedNext = run.Start + copied;
                if (copied < run.Count)
                {
                    break;
                }
            }
        }
        finally
        {
            owner.SwapInPages += done;
        }

        return done;
    }

    // Runs of copies in the loaded window of the copy area whose pages they still serve: a run
    // ends where the next copy is not of the next page (or of another region).
    private long FromCopies(Userfaultfd uffd, long maxPages)
    {
        var file = _handler.File;
        var copies = _copies!;
        var window = _loaded!.Window;
        var buffer = _buffers[_loaded.Buffer]!.Address;
        long done = 0;
        while (done < maxPages && _loadedNext < window.End)
        {
            var page = copies.PageAt(_loadedNext - copies.AreaStart);
            if (!Serves(page))
            {
                _loadedNext++;
                continue;
            }

            var owner = _handler.FindRegionOfFilePage(page)
                ?? throw new InvalidOperationException($"swap file page {page} belongs to no region");
            long count = 1;
            while (done + count < maxPages && _loadedNext + count < window.End
                && copies.PageAt(_loadedNext + count - copies.AreaStart) == page + count
                && page + count < owner.FilePages.End && Serves(page + count))
            {
                count++;
            }

            var run = new PageRange(page, page + count);
            var copied = CopyIn(uffd, owner, run, buffer + (nint)PageSize.PagesToBytes(_loadedNext - window.Start), done);

            // As from the pages' own slots: their bytes stay on disk for trim.
            file.ClearRange(new PageRange(run.Start, run.Start + copied));
            owner.SwapInPages += copied;
            done += copied;
            _loadedNext += copied;
            if (copied < run.Count)
            {
                break;
            }
        }

        return done;

        bool Serves(long page) => copies.IsValid(page) && file.IsPresent(page);
    }

    // The next area slot whose copy still serves, from the copies cursor on; -1 when none (or
    // the working set is not going first).
    private long NextCopy()
    {
        if (_first is null || _copies is not { } copies)
        {
            return -1;
        }

        while (_copiesCursor < copies.Used && !copies.IsValid(copies.PageAt(_copiesCursor)))
        {
            _copiesCursor++;
        }

        return _copiesCursor < copies.Used ? _copiesCursor : -1;
    }

    private bool IsCopies(PageRange window) => window.Start >= _handler.File.Length;

    // The first staged run from a slot on, within the working set while it goes first.
    private PageRange? NextStaged(long maxPages, long from, long limit)
    {
        var staging = _handler.Staging;
        return _first is null
            ? staging.FirstDataRange(maxPages, from, limit)
            : _first.FirstIn(f => staging.FirstDataRange(long.MaxValue, f, limit), from, limit, maxPages);
    }

    // The next run of the working set's slots present in the file, from the read cursor on.
    private PageRange? FirstWindowStart()
    {
        var file = _handler.File;
        return _first?.FirstIn(f => file.NextDataRange(f, long.MaxValue), _readCursor, file.Length, long.MaxValue);
    }

    private nint Buffer(int slot, long pages)
    {
        var bytes = PageSize.PagesToBytes(pages);
        if (_buffers[slot] is not { } buffer || buffer.Length < bytes)
        {
            _buffers[slot]?.Dispose();
            _buffers[slot] = null;
            _buffers[slot] = buffer = MemoryMapping.MapAnonymous(bytes);
        }

        return buffer.Address;
    }

    // Pages done: all of the run, or those done before the kernel deferred the rest. A refusal
    // with nothing of this step done yet is thrown, so the caller retries after reading events.
    // A page already in the guest (another process's userfaultfd put it there, or a process whose
    // mapping is not registered wrote it) is newer than the copy here: it counts as done.
    private static long CopyIn(Userfaultfd uffd, PageHandlerRegion region, PageRange run, nint source, long doneBefore)
    {
        long done = 0;
        while (done < run.Count)
        {
            var destination = region.AddressOfFilePage(run.Start + done);
            try
            {
                // No wake: a thread faulting on one of these pages is woken when its fault is read.
                uffd.Copy(destination, source + (nint)PageSize.PagesToBytes(done), PageSize.PagesToBytes(run.Count - done), wake: false);
                return run.Count;
            }
            catch (UffdPageExistsException e)
            {
                var existing = e.Address;
                done += PageSize.BytesToPages(existing - (ulong)destination) + 1;
                uffd.Wake((nint)existing, (ulong)PageSize.Bytes);
                region.RedundantPages++;
            }
            catch (UffdRetryException e) when (e.BytesDone > 0 || doneBefore + done > 0)
            {
                return done + PageSize.BytesToPages(e.BytesDone);
            }
        }

        return done;
    }
}
