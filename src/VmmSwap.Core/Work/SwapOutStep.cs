namespace VmmSwap.Core.Work;

/// <summary>
/// One step of a swap-out: a write of staged pages (<see cref="SwapOutWrite"/>) or, once staging
/// is empty, the flush that ends it (<see cref="SwapFileFlush"/>). Planned by
/// <see cref="PageHandler.PlanSwapOutStep"/>, completed by <see cref="PageHandler.CompleteSwapOutStep"/>;
/// both carry the staging runs a successful sync frees and a failed one stages again.
/// </summary>
public abstract class SwapOutStep : PageWork
{
    private protected SwapOutStep(DeferredFrees frees, DurableFrees durable)
        : base(frees) => Durable = durable;

    /// <summary>The staging runs freed once a sync in this step succeeds; when it fails, they are staged again.</summary>
    public DurableFrees Durable { get; }

    /// <summary>Whether the swap-out is over once this step has run.</summary>
    public abstract bool EndsSwapOut { get; }

    /// <summary>Why the step's working-set copies were not written (the swap-out goes on without them); null when they were, or it made none.</summary>
    public virtual Exception? CopiesFailure => null;

    /// <summary>Records the executed step in the page state; returns the pages it moved to the file.</summary>
    internal abstract long Complete(PageHandler handler);
}
