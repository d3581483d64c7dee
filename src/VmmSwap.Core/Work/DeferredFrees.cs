using VmmSwap.Core.Pages;
using VmmSwap.Core.Staging;
using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// Staging pages and swap-file blocks already dropped from the page state whose memory and disk
/// space are given back later, by the next piece of job work on a page worker, so the handler's
/// thread pays no madvise or hole punch per page while faults wait. Nothing can be staged or
/// written again until the job is over, and a job's end runs whatever is left
/// (<see cref="PageHandler.FlushDeferredFrees"/>), so a late free never hits live data.
/// </summary>
public sealed class DeferredFrees
{
    private readonly StagingMemory _staging;
    private readonly SwapFile _file;
    private readonly List<PageRange> _stagingRanges = [];
    private readonly List<PageRange> _fileRanges = [];

    internal DeferredFrees(StagingMemory staging, SwapFile file)
    {
        _staging = staging;
        _file = file;
    }

    /// <summary>Whether nothing is waiting to be freed.</summary>
    public bool IsEmpty => _stagingRanges.Count == 0 && _fileRanges.Count == 0;

    /// <summary>Frees every range; call once, on any thread.</summary>
    public void Execute()
    {
        foreach (var range in _stagingRanges)
        {
            _staging.FreeMemory(range);
        }

        foreach (var range in _fileRanges)
        {
            _file.PunchHoles(range);
        }
    }

    internal void AddStaging(PageRange range) => Add(_stagingRanges, range);

    internal void AddFile(PageRange range) => Add(_fileRanges, range);

    /// <summary>Moves everything pending into a new instance, for one piece of work to carry.</summary>
    internal DeferredFrees Take()
    {
        var taken = new DeferredFrees(_staging, _file);
        taken._stagingRanges.AddRange(_stagingRanges);
        taken._fileRanges.AddRange(_fileRanges);
        _stagingRanges.Clear();
        _fileRanges.Clear();
        return taken;
    }

    // Ranges come in ascending order within a window: neighbours merge into one call.
    private static void Add(List<PageRange> ranges, PageRange range)
    {
        if (range.IsEmpty)
        {
            return;
        }

        if (ranges.Count > 0 && ranges[^1].End == range.Start)
        {
            ranges[^1] = new PageRange(ranges[^1].Start, range.End);
        }
        else
        {
            ranges.Add(range);
        }
    }
}
