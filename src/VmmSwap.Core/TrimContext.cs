namespace VmmSwap.Core;

/// <summary>
/// A trim in progress: walks staging and drops pages that need no write to the swap file: zero
/// pages (a zero page serves their next fault) and clean pages, equal to their copy still on disk
/// (marked present in the file again). Comparisons are vectorised over staging, which is never
/// registered with userfaultfd.
/// </summary>
public sealed class TrimContext
{
    private readonly PageHandler _handler;
    private int _region;
    private long _page;

    internal TrimContext(PageHandler handler) => _handler = handler;

    /// <summary>Zero pages dropped so far.</summary>
    public long ZeroPages { get; private set; }

    /// <summary>Clean pages dropped so far.</summary>
    public long CleanPages { get; private set; }

    /// <summary>
    /// Examines the next <paramref name="maxPages"/> pages (fewer at a region's end) and returns
    /// how many were dropped; null once every region has been walked.
    /// </summary>
    public long? TrimPages(long maxPages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPages);
        var regions = _handler.HandledRegions;
        if (_region >= regions.Count)
        {
            return null;
        }

        var region = regions[_region];
        var staging = _handler.Staging;
        var file = _handler.File;
        var window = new PageRange(region.FilePageOffset + _page, Math.Min(region.FilePages.End, region.FilePageOffset + _page + maxPages));
        long trimmed = 0;

        // Runs of zero pages are freed together: one MADV_REMOVE and one hole punch per run.
        var zeroRunStart = -1L;
        for (var i = staging.FirstDataRange(1, window.Start, window.End)?.Start ?? -1; i >= 0;)
        {
            var content = staging.PageContent(i);
            var isZero = !content.ContainsAnyExcept((byte)0);
            if (isZero)
            {
                zeroRunStart = zeroRunStart < 0 ? i : zeroRunStart;
            }
            else
            {
                trimmed += FreeZeroRun(ref zeroRunStart, i);
                var onDisk = file.PageContent(i, allowCleared: true);
                if (!onDisk.IsEmpty && content.SequenceEqual(onDisk))
                {
                    staging.ClearRange(new PageRange(i, i + 1));
                    file.MarkAsPresent(i);
                    CleanPages++;
                    trimmed++;
                }
            }

            var next = staging.FirstDataRange(1, i + 1, window.End)?.Start ?? -1;
            if (next != i + 1)
            {
                trimmed += FreeZeroRun(ref zeroRunStart, i + 1);
            }

            i = next;
        }

        _page = window.End - region.FilePageOffset;
        if (_page >= region.PageCount)
        {
            _region++;
            _page = 0;
        }

        return trimmed;
    }

    // Frees the pending run of zero pages, if any, and returns its length.
    private long FreeZeroRun(ref long runStart, long runEnd)
    {
        if (runStart < 0)
        {
            return 0;
        }

        var run = new PageRange(runStart, runEnd);
        _handler.Staging.ClearRange(run);
        _handler.File.FreeRange(run);
        ZeroPages += run.Count;
        runStart = -1;
        return run.Count;
    }
}
