namespace VmmSwap.Cli.Demo;

/// <summary>What the vCPUs did in one run of the guest.</summary>
/// <param name="Faults">First touches since Enable: each was a userfaultfd fault.</param>
/// <param name="Accesses">Page reads.</param>
/// <param name="Writes">Page writes.</param>
/// <param name="Elapsed">How long the guest ran.</param>
/// <param name="LatencyTicks">Latency of each faulting first touch, in Stopwatch ticks.</param>
/// <param name="ReadMismatches">Pages that read back different from what was last written to them.</param>
/// <param name="StuckVcpus">vCPUs that did not stop (waiting on a fault nobody served).</param>
public sealed record GuestRunResult(
    long Faults,
    long Accesses,
    long Writes,
    TimeSpan Elapsed,
    IReadOnlyList<long> LatencyTicks,
    IReadOnlyList<long> ReadMismatches,
    int StuckVcpus)
{
    /// <summary>Percentiles of <see cref="LatencyTicks"/>.</summary>
    public FaultLatency Latency { get; } = FaultLatency.FromTicks(LatencyTicks);
}
