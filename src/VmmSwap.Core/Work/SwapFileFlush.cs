using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// The last step of a swap-out: the swap file is synced, the staging copies of the pages written
/// since the last sync are freed (only once it succeeded), and the file is dropped from the page
/// cache, so the host gets the written pages' RAM back now rather than at the next reclaim.
/// Planned by <see cref="PageHandler.PlanSwapOutFlush"/> once staging is empty; it changes no page state.
/// </summary>
public sealed class SwapFileFlush : SwapOutStep
{
    private readonly SwapFile _file;

    internal SwapFileFlush(SwapFile file, DeferredFrees frees, DurableFrees durable)
        : base(frees, durable) => _file = file;

    /// <inheritdoc />
    public override bool EndsSwapOut => true;

    /// <inheritdoc />
    internal override long Complete(PageHandler handler) => 0;

    /// <inheritdoc />
    protected override void Run()
    {
        Durable.SyncThenFree(always: true);
        _file.ReleasePageCache();
    }
}
