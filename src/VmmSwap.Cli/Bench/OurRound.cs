namespace VmmSwap.Cli.Bench;

/// <summary>One round of our runtime at one guest size: what pass 1 (the life cycle) and pass 2 (faults during jobs) measure.</summary>
internal sealed record OurRound
{
    internal Dictionary<string, Latency> Faults { get; } = [];

    /// <summary>The fault thread's CPU over the fault blocks of <see cref="Faults"/>, and their wall-clock time.</summary>
    internal CpuSpan FaultThreadCpu { get; set; }

    /// <summary>The fault thread's CPU over <see cref="BenchOptions.IdleGuest"/> of a guest touching nothing, after the faults.</summary>
    internal CpuSpan IdleFaultThreadCpu { get; set; }

    internal double EnableGibS { get; set; }

    internal double SwapOutGibS { get; set; }

    internal double SwapInGibS { get; set; }

    internal double TrimPagesPerS { get; set; }

    internal long TrimPages { get; set; }

    internal long TrimDropped { get; set; }

    internal Latency IdleStaging { get; set; } = Latency.Empty;

    internal Latency IdleFile { get; set; } = Latency.Empty;

    internal Latency DuringTrim { get; set; } = Latency.Empty;

    internal Latency DuringSwapOut { get; set; } = Latency.Empty;

    internal Latency DuringSwapIn { get; set; } = Latency.Empty;

    internal long HeapDeltaBytes { get; set; }

    internal long RssAnonDeltaBytes { get; set; }

    internal long VmRssBeforeBytes { get; set; }

    internal long VmRssActiveBytes { get; set; }

    internal long HostBeforeBytes { get; set; }

    internal long HostActiveBytes { get; set; }

    internal long SwapPageCacheBytes { get; set; }

    internal WorkingSetResult? WorkingSet { get; set; }
}
