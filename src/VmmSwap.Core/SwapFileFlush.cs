namespace VmmSwap.Core;

/// <summary>
/// The last step of a swap-out: the swap file is flushed and dropped from the page cache, so the
/// host gets the written pages' RAM back now rather than at the next reclaim. Planned by
/// <see cref="PageHandler.PlanSwapOutFlush"/> once staging is empty; it changes no page state.
/// </summary>
public sealed class SwapFileFlush : PageWork
{
    private readonly SwapFile _file;

    internal SwapFileFlush(SwapFile file, DeferredFrees frees)
        : base(frees) => _file = file;

    /// <inheritdoc />
    protected override void Run() => _file.ReleasePageCache();
}
