using System.Diagnostics;

namespace VmmSwap.Cli.Demo;

/// <summary>Percentiles of fault service latency as a vCPU sees it: from the access to its completion.</summary>
/// <param name="Samples">Faults measured.</param>
/// <param name="P50Microseconds">Median, in microseconds (0 without samples).</param>
/// <param name="P99Microseconds">99th percentile, in microseconds (0 without samples).</param>
/// <param name="MaxMicroseconds">Slowest, in microseconds (0 without samples).</param>
public sealed record FaultLatency(long Samples, double P50Microseconds, double P99Microseconds, double MaxMicroseconds)
{
    /// <summary>No faults measured.</summary>
    public static FaultLatency None { get; } = new(0, 0, 0, 0);

    /// <summary>Summarises latencies given in <see cref="Stopwatch"/> ticks.</summary>
    public static FaultLatency FromTicks(IEnumerable<long> ticks)
    {
        ArgumentNullException.ThrowIfNull(ticks);
        var sorted = ticks.Order().ToArray();
        return sorted.Length == 0
            ? None
            : new FaultLatency(sorted.Length, Microseconds(Percentile(sorted, 50)), Microseconds(Percentile(sorted, 99)), Microseconds(sorted[^1]));
    }

    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    private static long Percentile(long[] sorted, int percent) =>
        sorted[Math.Max(0, (int)Math.Ceiling(sorted.Length * percent / 100.0) - 1)];

    private static double Microseconds(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
