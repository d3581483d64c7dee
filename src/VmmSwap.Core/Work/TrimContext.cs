using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Work;

/// <summary>
/// A trim in progress: walks staging window by window and drops pages that need no write to the
/// swap file: zero pages (a zero page serves their next fault) and clean pages, equal to their
/// copy still on disk (marked present in the file again). Each window is planned here, examined
/// by a <see cref="TrimWindow"/> (on any thread; staging is never registered with userfaultfd,
/// so its comparisons are plain vectorised reads) and applied here.
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
    /// Plans the examination of the next <paramref name="maxPages"/> pages (fewer at a region's
    /// end); once every region has been walked, one last window with nothing to examine carries
    /// the frees still deferred, then null. Execute it, then pass it to <see cref="Complete"/>.
    /// </summary>
    public TrimWindow? Plan(long maxPages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPages);
        var regions = _handler.HandledRegions;
        if (_region >= regions.Count)
        {
            return _handler.Deferred.IsEmpty ? null : new TrimWindow(_handler.Staging, _handler.File, default, [], [], _handler.Deferred.Take());
        }

        var region = regions[_region];
        var staging = _handler.Staging;
        var file = _handler.File;
        var window = new PageRange(region.FilePageOffset + _page, Math.Min(region.FilePages.End, region.FilePageOffset + _page + maxPages));
        var staged = new List<long>();
        for (var from = window.Start; staging.FirstDataRange(window.Count, from, window.End) is { } run; from = run.End)
        {
            for (var i = run.Start; i < run.End; i++)
            {
                staged.Add(i);
            }
        }

        _page = window.End - region.FilePageOffset;
        if (_page >= region.PageCount)
        {
            _region++;
            _page = 0;
        }

        var onDisk = staged.Select(file.IsOnDisk).ToArray();
        return new TrimWindow(staging, file, window, [.. staged], onDisk, _handler.Deferred.Take());
    }

    /// <summary>
    /// Applies an examined window to the pages still staged and returns how many were dropped.
    /// Their staging memory and the zero pages' file blocks are freed by the next work of the job
    /// (<see cref="DeferredFrees"/>), in runs.
    /// </summary>
    public long Complete(TrimWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        var staging = _handler.Staging;
        var file = _handler.File;
        long trimmed = 0;
        var zeroRunStart = -1L;
        var zeroRunEnd = -1L;
        for (var k = 0; k < window.Staged.Length; k++)
        {
            var page = window.Staged[k];
            if (zeroRunStart >= 0 && page != zeroRunEnd)
            {
                trimmed += FreeZeroRun(new PageRange(zeroRunStart, zeroRunEnd));
                zeroRunStart = -1;
            }

            if (!staging.IsPresent(page))
            {
                // Faulted back or removed meanwhile; the examination may have read its freed
                // memory back in as a zero page, so free it again.
                _handler.Deferred.AddStaging(new PageRange(page, page + 1));
                continue;
            }

            switch (window.Verdicts[k])
            {
                case TrimVerdict.Zero:
                    zeroRunStart = zeroRunStart < 0 ? page : zeroRunStart;
                    zeroRunEnd = page + 1;
                    break;
                case TrimVerdict.Clean when file.IsOnDisk(page):
                    staging.Forget(new PageRange(page, page + 1));
                    _handler.Deferred.AddStaging(new PageRange(page, page + 1));
                    file.MarkAsPresent(page);
                    CleanPages++;
                    trimmed++;
                    break;
            }
        }

        if (zeroRunStart >= 0)
        {
            trimmed += FreeZeroRun(new PageRange(zeroRunStart, zeroRunEnd));
        }

        return trimmed;
    }

    private long FreeZeroRun(PageRange run)
    {
        _handler.Staging.Forget(run);
        _handler.Deferred.AddStaging(run);
        foreach (var onDisk in _handler.File.Forget(run))
        {
            _handler.Deferred.AddFile(onDisk);
        }

        ZeroPages += run.Count;
        return run.Count;
    }
}
