using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Work;

/// <summary>
/// One swap-out chunk: runs of staged pages written to their slots in the swap file, with
/// writeback started at once so the flush at the end of the swap-out finds little left to do,
/// and the working-set pages among them written again into the copy area (<see cref="Copies"/>).
/// Every <see cref="PageHandler.DurableBatchPages"/> pages a write first syncs the file and frees
/// the staging of earlier writes (its <see cref="SwapOutStep.Durable"/>), so a swap-out holds only
/// a bounded amount of staging it has already written.
/// Planned by <see cref="PageHandler.PlanSwapOut"/> (or, as a step, <see cref="PageHandler.PlanSwapOutStep"/>),
/// completed by <see cref="PageHandler.CompleteSwapOut"/>.
/// </summary>
/// <remarks>
/// While it runs the guest may fault pages of the run back from staging (their staging copies are
/// intact: nothing writes staging during a swap-out) or a balloon may remove some; completion
/// marks present in the file only the pages still staged, so either leaves the state right.
/// </remarks>
public sealed class SwapOutWrite : SwapOutStep
{
    private readonly SwapFile _file;
    private readonly SafeFd _staging;

    internal SwapOutWrite(SwapFile file, IReadOnlyList<PageRange> runs, SafeFd staging, WorkingSetCopyPlan? copies, DeferredFrees frees, DurableFrees durable)
        : base(frees, durable)
    {
        _file = file;
        Runs = runs;
        _staging = staging;
        Copies = copies;
    }

    /// <inheritdoc />
    public override bool EndsSwapOut => false;

    /// <summary>The swap-file slots (and staging pages) written, in file order.</summary>
    public IReadOnlyList<PageRange> Runs { get; }

    /// <summary>The working-set copies written with the pages; null when none.</summary>
    public WorkingSetCopyPlan? Copies { get; }

    /// <inheritdoc />
    public override Exception? CopiesFailure => Copies?.Failure;

    /// <inheritdoc />
    internal override long Complete(PageHandler handler) => handler.CompleteSwapOut(this);

    /// <inheritdoc />
    protected override void Run()
    {
        Durable.SyncThenFree(always: false);
        _file.WritePages(Runs, _staging, Copies);
    }
}
