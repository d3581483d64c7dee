namespace VmmSwap.Core;

/// <summary>Page counts behind the status metrics (crosvm's <c>Metrics</c>).</summary>
/// <param name="ResidentPages">Guest pages in RAM.</param>
/// <param name="CopiedFromFilePages">Pages faulted in from the swap file since enable.</param>
/// <param name="CopiedFromStagingPages">Pages faulted in from staging since enable.</param>
/// <param name="ZeroedPages">Pages faulted in as zero pages since enable.</param>
/// <param name="RedundantPages">Faults on pages that were already populated (woken only).</param>
/// <param name="StagingPages">Pages held in staging.</param>
/// <param name="SwapPages">Pages present in the swap file.</param>
public sealed record SwapMetrics(
    long ResidentPages,
    long CopiedFromFilePages,
    long CopiedFromStagingPages,
    long ZeroedPages,
    long RedundantPages,
    long StagingPages,
    long SwapPages)
{
    /// <summary>All zero: the metrics while swap is disabled.</summary>
    public static SwapMetrics Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);
}
