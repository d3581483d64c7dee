using VmmSwap.Core.Pages;
using VmmSwap.Core.Staging;
using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// One trim chunk: the staged pages of a window of staging, examined for zero pages and for pages
/// equal to their bytes still on disk. Planned by <see cref="TrimContext.Plan"/> with a snapshot
/// of which pages were staged and on disk, executed on any thread (it only reads staging and the
/// swap file), and applied by <see cref="TrimContext.Complete"/>, which acts only on pages still
/// staged, so a fault or remove while it runs leaves the state right.
/// </summary>
public sealed class TrimWindow : PageWork
{
    private readonly StagingMemory _staging;
    private readonly SwapFile _file;

    internal TrimWindow(StagingMemory staging, SwapFile file, PageRange range, long[] staged, bool[] onDisk, DeferredFrees frees)
        : base(frees)
    {
        _staging = staging;
        _file = file;
        Range = range;
        Staged = staged;
        OnDisk = onDisk;
        Verdicts = new TrimVerdict[staged.Length];
    }

    /// <summary>The window of staging examined.</summary>
    public PageRange Range { get; }

    internal long[] Staged { get; }

    internal bool[] OnDisk { get; }

    internal TrimVerdict[] Verdicts { get; }

    /// <inheritdoc />
    protected override void Run()
    {
        try
        {
            Compare();
        }
        finally
        {
            // The comparisons read the file through its mapping; mapped cache pages would survive
            // the page-cache drop at the end of the next swap-out.
            if (OnDisk.Contains(true))
            {
                _file.UnmapRange(Range);
            }
        }
    }

    private void Compare()
    {
        for (var k = 0; k < Staged.Length; k++)
        {
            var page = new PageRange(Staged[k], Staged[k] + 1);
            var content = _staging.GetSlice(page);
            if (!content.ContainsAnyExcept((byte)0))
            {
                Verdicts[k] = TrimVerdict.Zero;
            }
            else if (OnDisk[k] && content.SequenceEqual(_file.GetSlice(page)))
            {
                Verdicts[k] = TrimVerdict.Clean;
            }
        }
    }
}
