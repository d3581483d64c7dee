using VmmSwap.Native;

namespace VmmSwap.Core;

/// <summary>
/// A swap-in in progress: brings pages back into the guest step by step, staging first, then the
/// swap file. The file is read a window at a time with one pread into a bounce buffer
/// (<see cref="SwapInRead"/>, which may run on another thread), then each present run of the
/// window is copied in with UFFDIO_COPY, a bounded step at a time, so a fault waits at most one
/// step and a window fragmented by trim costs one sequential read rather than a fault per page
/// of the file mapping. A window's page cache is dropped once its pages are in the guest.
/// Dispose frees the buffer.
/// </summary>
/// <remarks>
/// crosvm copies straight from the file mapping and keeps read-ahead ahead of it by mlocking up
/// to 16 MiB of the mapping. Reading into a buffer gets the kernel's sequential read-ahead without
/// pinning pages, and leaves no cached copy of a page that is back in the guest.
/// </remarks>
public sealed class SwapInContext : IDisposable
{
    private readonly PageHandler _handler;
    private MemoryMapping? _buffer;
    private int _stagingRegion;
    private SwapInRead? _loaded;
    private PageHandlerRegion? _loadedOwner;
    private long _loadedNext;
    private PageRange? _lastWindow;

    internal SwapInContext(PageHandler handler) => _handler = handler;

    /// <summary>
    /// Brings the next pages in, on this thread: a step of <see cref="CopyStep"/>, reading the next
    /// window (of <paramref name="maxBytes"/>) first when the step found nothing loaded. Returns the
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
    /// the loaded window. Returns the pages copied; 0 when staging is empty and the loaded window
    /// (if any) has nothing left: plan the next read. Pages faulted in or removed since the window
    /// was read are skipped. Throws <see cref="UffdRetryException"/> while a remove event is
    /// pending and nothing was copied.
    /// </summary>
    public long CopyStep(Userfaultfd uffd, ulong maxBytes)
    {
        ArgumentNullException.ThrowIfNull(uffd);
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

        return _loaded is null ? 0 : FromLoaded(uffd, maxPages);
    }

    /// <summary>
    /// Plans the read of the next window of <paramref name="maxBytes"/> of the swap file, from its
    /// first present slot and never crossing a region; null when no page is left in the file.
    /// Execute it (on any thread), then hand it to <see cref="Loaded"/>.
    /// </summary>
    public SwapInRead? PlanRead(ulong maxBytes)
    {
        var maxPages = PageHandler.MaxPages(maxBytes);
        if (_handler.File.FirstDataRange(1) is not { } first)
        {
            return null;
        }

        var owner = _handler.FindRegionOfFilePage(first.Start)
            ?? throw new InvalidOperationException($"swap file page {first.Start} belongs to no region");
        var window = new PageRange(first.Start, Math.Min(first.Start + maxPages, owner.FilePages.End));
        var read = new SwapInRead(_handler.File, window, Buffer(window.Count), _lastWindow, _handler.Deferred.Take());
        _lastWindow = window;
        _loaded = null;
        return read;
    }

    /// <summary>Takes an executed read as the window <see cref="CopyStep"/> copies from.</summary>
    public void Loaded(SwapInRead read)
    {
        ArgumentNullException.ThrowIfNull(read);
        _loaded = read;
        _loadedOwner = _handler.FindRegionOfFilePage(read.Window.Start);
        _loadedNext = read.Window.Start;
    }

    /// <inheritdoc />
    public void Dispose()
    {
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

        _buffer?.Dispose();
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
            for (var from = region.FilePageOffset; done < maxPages;)
            {
                if (staging.FirstDataRange(maxPages - done, from, region.FilePages.End) is not { } run)
                {
                    break;
                }

                var copied = CopyIn(uffd, region, run, staging.AddressOf(run.Start), done);
                spanStart = spanStart < 0 ? run.Start : spanStart;
                spanEnd = run.Start + copied;
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
        var buffer = _buffer!.Address;
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

    private nint Buffer(long pages)
    {
        var bytes = PageSize.PagesToBytes(pages);
        if (_buffer is null || _buffer.Length < bytes)
        {
            _buffer?.Dispose();
            _buffer = null;
            _buffer = MemoryMapping.MapAnonymous(bytes);
        }

        return _buffer.Address;
    }

    // Pages copied: all of the run, or those done before the kernel deferred the rest. A refusal
    // with nothing of this step done yet is thrown, so the caller retries after reading events.
    private static long CopyIn(Userfaultfd uffd, PageHandlerRegion region, PageRange run, nint source, long doneBefore)
    {
        try
        {
            // No wake: a thread faulting on one of these pages is woken when its fault is read.
            uffd.Copy(region.AddressOfFilePage(run.Start), source, PageSize.PagesToBytes(run.Count), wake: false);
            return run.Count;
        }
        catch (UffdRetryException e) when (e.BytesDone > 0 || doneBefore > 0)
        {
            return PageSize.BytesToPages(e.BytesDone);
        }
    }
}
