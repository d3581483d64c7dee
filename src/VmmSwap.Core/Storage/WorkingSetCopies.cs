using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Storage;

/// <summary>
/// REAP's working-set file, kept in the swap file past the guest's slots: a swap-out writes each
/// working-set page a second time into this area, packed in the order written, so a working-set
/// swap-in (or a prefetch) reads the working set with a few sequential reads rather than a small
/// read per page scattered over the whole file. A copy is only a quicker way to the same bytes:
/// the page's own slot stays its record, and a copy serves only while its page is present and has
/// not left the file since the copy was written (every leave drops it, see <see cref="Drop"/>).
/// The first write after a job ended (<see cref="EndSwapOut"/>) starts the area over, as a new
/// generation: copies of pages written by an earlier swap-out are dropped, and the first copies
/// written punch the area they filled. Owned by the handler's thread; only the writes it plans
/// run elsewhere.
/// </summary>
public sealed class WorkingSetCopies
{
    private readonly SwapFile _file;
    private readonly WorkingSet _workingSet;

    // Pages whose copy in the area holds their present bytes.
    private readonly PresentList _valid;

    // Pages given an area slot since the area started over: a page gets one slot at most, so no
    // older slot of it can ever be taken for its copy.
    private readonly PresentList _assigned;

    // Area slot -> swap-file page.
    private readonly List<long> _pages = [];
    private bool _startOver = true;
    private bool _failed;
    private long _generation;

    // The area the generation before filled, until a plan carries it to be punched.
    private PageRange? _stale;

    /// <summary>Copies of <paramref name="workingSet"/>'s pages, in the area of <paramref name="file"/> past its slots.</summary>
    public WorkingSetCopies(SwapFile file, WorkingSet workingSet)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(workingSet);
        if (workingSet.Length != file.Length)
        {
            throw new ArgumentException($"the working set covers {workingSet.Length} pages, the swap file {file.Length}", nameof(workingSet));
        }

        _file = file;
        _workingSet = workingSet;
        _valid = new PresentList(file.Length);
        _assigned = new PresentList(file.Length);
        Capacity = file.CopyAreaPages;
    }

    /// <summary>Area slots a swap-out may fill.</summary>
    public long Capacity { get; }

    /// <summary>Area slots filled since the area started over.</summary>
    public long Used => _pages.Count;

    /// <summary>Pages whose copy serves.</summary>
    public long ValidPages => _valid.Count;

    /// <summary>The swap-file slot of area slot 0: the area follows the guest's slots.</summary>
    public long AreaStart => _file.Length;

    /// <summary>Whether page <paramref name="index"/> has a copy that serves.</summary>
    public bool IsValid(long index) => _valid.Get(index);

    /// <summary>The page area slot <paramref name="slot"/> holds a copy of (the copy may no longer serve).</summary>
    public long PageAt(long slot) => _pages[checked((int)slot)];

    /// <summary>A job is over (a swap-out's end, or the start of anything else): the next write starts the area over.</summary>
    public void EndSwapOut() => _startOver = true;

    /// <summary>
    /// Assigns area slots to the working-set pages of <paramref name="runs"/>, runs of staged
    /// pages about to be written while <paramref name="stagedPages"/> are staged; null when none
    /// gets one (none in the set, the area full, or an earlier copy write failed in this
    /// generation). The slots are contiguous, in the runs' page order.
    /// </summary>
    public WorkingSetCopyPlan? Plan(IReadOnlyList<PageRange> runs, long stagedPages)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (_startOver)
        {
            StartOver();
        }

        if (_failed)
        {
            return null;
        }

        var first = Used;
        var copied = new List<PageRange>();
        foreach (var run in runs)
        {
            Assign(run, copied);
        }

        if (copied.Count == 0)
        {
            return null;
        }

        var plan = new WorkingSetCopyPlan(_generation, AreaStart + first, copied, stagedPages, _stale);
        _stale = null;
        return plan;
    }

    // Gives the working-set pages of run not yet given a slot in this generation the next slots.
    private void Assign(PageRange run, List<PageRange> copied)
    {
        for (var from = run.Start; Used < Capacity && _workingSet.Next(from, run.End) is { } inSet; from = inSet.End)
        {
            var p = _assigned.NextClear(inSet.Start, inSet.End);
            while (p < inSet.End && Used < Capacity)
            {
                var assigned = _assigned.NextSet(p, inSet.End);
                var pages = new PageRange(p, PresentList.CappedEnd(p, Capacity - Used, assigned < 0 ? inSet.End : assigned));
                copied.Add(pages);
                _assigned.MarkRangeAsPresent(pages);
                for (var i = pages.Start; i < pages.End; i++)
                {
                    _pages.Add(i);
                }

                p = _assigned.NextClear(pages.End, inSet.End);
            }
        }
    }

    /// <summary>
    /// Records an executed copy write: the copies of its pages now present in the file serve, or,
    /// when the write failed, none does and the area takes no more copies in this swap-out (a
    /// copy never fails a swap-out; the pages' own slots hold them).
    /// </summary>
    public void Complete(WorkingSetCopyPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Generation != _generation)
        {
            return;
        }

        if (!plan.Written)
        {
            _failed = true;
            return;
        }

        foreach (var pages in plan.Pages)
        {
            for (var from = pages.Start; _file.NextDataRange(from, pages.End) is { } present; from = present.End)
            {
                _valid.MarkRangeAsPresent(present);
            }
        }
    }

    /// <summary>The pages of <paramref name="range"/> leave the file: their copies no longer serve.</summary>
    public void Drop(PageRange range) => _valid.ClearRange(range);

    private void StartOver()
    {
        _startOver = false;
        _failed = false;
        _generation = _file.StartCopyGeneration();
        if (Used > 0)
        {
            _stale = new PageRange(AreaStart, AreaStart + Math.Max(Used, _stale?.Count ?? 0));
        }

        _valid.ClearRange(new PageRange(0, _valid.Length));
        _assigned.ClearRange(new PageRange(0, _assigned.Length));
        _pages.Clear();
    }
}
