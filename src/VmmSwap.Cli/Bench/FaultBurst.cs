namespace VmmSwap.Cli.Bench;

/// <summary>Faults taken by several guest threads at once: their merged latencies and the wall time of all.</summary>
/// <param name="P50Us">Median over every thread's faults.</param>
/// <param name="P99Us">99th percentile over every thread's faults.</param>
/// <param name="MaxUs">Largest.</param>
/// <param name="Faults">Faults of all threads.</param>
/// <param name="Seconds">From the threads' release to the last thread's last fault.</param>
/// <param name="PagesPerS">Faults over that time.</param>
internal sealed record FaultBurst(double P50Us, double P99Us, double MaxUs, long Faults, double Seconds, double PagesPerS)
{
    internal static FaultBurst Of(Latency latency, double seconds) =>
        new(latency.P50Us, latency.P99Us, latency.MaxUs, latency.Faults, seconds, seconds > 0 ? latency.Faults / seconds : 0);

    internal static FaultBurst Median(IEnumerable<FaultBurst> rounds)
    {
        var all = rounds.ToList();
        return new FaultBurst(
            Stats.Median(all.Select(b => b.P50Us)),
            Stats.Median(all.Select(b => b.P99Us)),
            Stats.Median(all.Select(b => b.MaxUs)),
            (long)Stats.Median(all.Select(b => (double)b.Faults)),
            Stats.Median(all.Select(b => b.Seconds)),
            Stats.Median(all.Select(b => b.PagesPerS)));
    }
}
