namespace VmmSwap.Cli.Bench;

/// <summary>Percentiles of one set of fault latencies, in microseconds.</summary>
/// <param name="P50Us">Median.</param>
/// <param name="P99Us">99th percentile.</param>
/// <param name="MaxUs">Largest.</param>
/// <param name="Faults">Samples.</param>
internal sealed record Latency(double P50Us, double P99Us, double MaxUs, long Faults)
{
    internal static Latency Empty { get; } = new(0, 0, 0, 0);

    /// <summary>Percentiles picked the way native_ref picks them (sorted, index n/2 and n*0.99).</summary>
    internal static Latency Of(double[] samples, int count)
    {
        if (count == 0)
        {
            return Empty;
        }

        var sorted = samples.AsSpan(0, count);
        sorted.Sort();
        return new Latency(sorted[count / 2], sorted[(int)(count * 0.99)], sorted[count - 1], count);
    }

    internal static Latency Median(IEnumerable<Latency> rounds)
    {
        var all = rounds.ToList();
        return new Latency(Stats.Median(all.Select(l => l.P50Us)), Stats.Median(all.Select(l => l.P99Us)), Stats.Median(all.Select(l => l.MaxUs)), (long)Stats.Median(all.Select(l => (double)l.Faults)));
    }
}

/// <summary>Small statistics helpers.</summary>
internal static class Stats
{
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    internal static double Ratio(double ours, double reference) => reference > 0 ? ours / reference : 0;

    internal static double GibPerSecond(ulong bytes, TimeSpan elapsed) =>
        elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds / (1UL << 30) : 0;
}
