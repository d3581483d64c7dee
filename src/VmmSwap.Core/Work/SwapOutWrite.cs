using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// One swap-out chunk: a run of staged pages written to its slots in the swap file, with
/// writeback started at once so the flush at the end of the swap-out finds little left to do.
/// Planned by <see cref="PageHandler.PlanSwapOut"/>, completed by <see cref="PageHandler.CompleteSwapOut"/>.
/// </summary>
/// <remarks>
/// While it runs the guest may fault pages of the run back from staging (their staging copies are
/// intact: nothing writes staging during a swap-out) or a balloon may remove some; completion
/// marks present in the file only the pages still staged, so either leaves the state right.
/// </remarks>
public sealed class SwapOutWrite : PageWork
{
    private readonly SwapFile _file;
    private readonly nint _source;

    internal SwapOutWrite(SwapFile file, PageRange range, nint source, DeferredFrees frees, DurableFrees durable)
        : base(frees)
    {
        _file = file;
        Range = range;
        _source = source;
        Durable = durable;
    }

    /// <summary>
    /// Staging runs of earlier writes, freed once a sync before this write succeeds (every
    /// <see cref="PageHandler.DurableBatchPages"/> pages, so a swap-out holds only a bounded amount
    /// of staging it has already written); when the sync fails, they are staged again.
    /// </summary>
    public DurableFrees Durable { get; }

    /// <summary>The swap-file slots (and staging pages) written.</summary>
    public PageRange Range { get; }

    /// <inheritdoc />
    protected override void Run()
    {
        Durable.SyncThenFree(always: false);
        _file.WritePages(Range, _source);
    }
}
