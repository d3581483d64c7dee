using VmmSwap.Native;

namespace VmmSwap.Core;

/// <summary>
/// A swap-in in progress: brings pages back into the guest chunk by chunk, staging first, then
/// the swap file, prefetching the file under an mlock budget. Dispose releases the locks.
/// </summary>
public sealed class SwapInContext : IDisposable
{
    private readonly PageHandler _handler;
    private int _stagingRegion;

    internal SwapInContext(PageHandler handler) => _handler = handler;

    /// <summary>
    /// Copies the next run of at most <paramref name="maxBytes"/> (never crossing a region) into the
    /// guest through <paramref name="uffd"/>. Returns the pages brought in; 0 when nothing is left
    /// outside the guest. While a remove event is pending it returns the pages done before the
    /// refusal, or throws <see cref="UffdRetryException"/> if none: read events, then call again.
    /// </summary>
    public long SwapIn(Userfaultfd uffd, ulong maxBytes)
    {
        ArgumentNullException.ThrowIfNull(uffd);
        var file = _handler.File;
        var staging = _handler.Staging;
        if (_handler.MlockBudgetPages > PageSize.BytesToPages(PageHandler.PrefetchThresholdBytes))
        {
            _handler.MlockBudgetPages -= file.LockAndAsyncPrefetch(_handler.MlockBudgetPages);
        }

        var maxPages = PageHandler.MaxPages(maxBytes);
        var regions = _handler.HandledRegions;
        for (; _stagingRegion < regions.Count; _stagingRegion++)
        {
            var region = regions[_stagingRegion];
            if (staging.FirstDataRange(maxPages, region.FilePageOffset, region.FilePages.End) is { } run)
            {
                var done = CopyIn(uffd, region, run, staging.AddressOf(run.Start));
                staging.ClearRange(new PageRange(run.Start, run.Start + done));
                region.SwapInPages += done;
                return done;
            }
        }

        if (file.FirstDataRange(maxPages) is not { } fileRun)
        {
            return 0;
        }

        var owner = _handler.FindRegionOfFilePage(fileRun.Start)
            ?? throw new InvalidOperationException($"swap file pages {fileRun} belong to no region");
        var chunk = fileRun.Intersect(owner.FilePages);
        var copied = CopyIn(uffd, owner, chunk, file.AddressOf(chunk.Start));

        // Bytes stay on disk: an aborted swap-in leaves them for trim's clean-page check.
        _handler.MlockBudgetPages += file.ClearRange(new PageRange(chunk.Start, chunk.Start + copied));
        owner.SwapInPages += copied;
        return copied;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _handler.File.ClearMlock();
        _handler.MlockBudgetPages = PageSize.BytesToPages(PageHandler.MlockBudgetBytes);
    }

    private static long CopyIn(Userfaultfd uffd, PageHandlerRegion region, PageRange run, nint source)
    {
        try
        {
            // No wake: a thread faulting on one of these pages is woken when its fault is read.
            uffd.Copy(region.AddressOfFilePage(run.Start), source, PageSize.PagesToBytes(run.Count), wake: false);
            return run.Count;
        }
        catch (UffdRetryException e) when (e.BytesDone > 0)
        {
            return PageSize.BytesToPages(e.BytesDone);
        }
    }
}
