using VmmSwap.Native;

namespace VmmSwap.Core;

/// <summary>
/// A swap-in in progress: brings pages back into the guest chunk by chunk, staging first, then
/// the swap file. A file chunk is one pread of a window of slots into a bounce buffer, then one
/// UFFDIO_COPY per present run in it, so a window fragmented by trim costs one sequential read
/// rather than a fault per page of the file mapping; the window's page cache is dropped once its
/// pages are in the guest. Dispose frees the buffer.
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

    internal SwapInContext(PageHandler handler) => _handler = handler;

    /// <summary>
    /// Copies the next pages into the guest through <paramref name="uffd"/>: up to
    /// <paramref name="maxBytes"/> of staged pages, or else the present pages of the next window of
    /// <paramref name="maxBytes"/> of the swap file (never crossing a region). Returns the pages
    /// brought in; 0 when nothing is left outside the guest. While a remove event is pending it
    /// returns the pages done before the refusal, or throws <see cref="UffdRetryException"/> if
    /// none: read events, then call again.
    /// </summary>
    public long SwapIn(Userfaultfd uffd, ulong maxBytes)
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

        return FromFile(uffd, maxPages);
    }

    /// <inheritdoc />
    public void Dispose() => _buffer?.Dispose();

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

    private long FromFile(Userfaultfd uffd, long maxPages)
    {
        var file = _handler.File;
        if (file.FirstDataRange(1) is not { } first)
        {
            return 0;
        }

        var owner = _handler.FindRegionOfFilePage(first.Start)
            ?? throw new InvalidOperationException($"swap file page {first.Start} belongs to no region");
        var window = new PageRange(first.Start, Math.Min(first.Start + maxPages, owner.FilePages.End));
        var buffer = Buffer(window.Count);
        file.ReadInto(window, buffer);
        long done = 0;
        try
        {
            for (var from = window.Start; file.NextDataRange(from, window.End) is { } run;)
            {
                var source = buffer + (nint)PageSize.PagesToBytes(run.Start - window.Start);
                var copied = CopyIn(uffd, owner, run, source, done);

                // Bytes stay on disk: an aborted swap-in leaves them for trim's clean-page check.
                file.ClearRange(new PageRange(run.Start, run.Start + copied));
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
            owner.SwapInPages += done;
            file.DropCache(window);
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
    // with nothing of this chunk done yet is thrown, so the caller retries after reading events.
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
