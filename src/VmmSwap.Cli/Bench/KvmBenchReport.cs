namespace VmmSwap.Cli.Bench;

/// <summary>One round of one KVM case: the guest's first-touch latencies and the demand-paging rate.</summary>
internal sealed record KvmCaseRound(Latency Latency, double PagesPerSecond);

/// <summary>One KVM case, medians over rounds, ours against native_ref driving the same guest.</summary>
internal sealed record KvmCaseResult(
    int Vcpus,
    string Source,
    string Order,
    Latency Ours,
    Latency Native,
    double P50Ratio,
    double OursPagesPerS,
    double NativePagesPerS,
    double RateRatio,
    double AnchorRatio);

/// <summary>The report of <c>vmm-swap bench --kvm</c>; FaultPollMaxUs is the runtime's <c>fault-poll-max</c> it ran with (0: polling off).</summary>
internal sealed record KvmBenchReport(
    MachineInfo Machine,
    int PagesPerCase,
    int Rounds,
    string SwapDirectory,
    long FaultPollMaxUs,
    double AnchorPagesPerS,
    IReadOnlyList<string> Notes,
    IReadOnlyList<KvmCaseResult> Cases)
{
    /// <summary>The kernel's demand_paging_test on bare metal, 1 vCPU: the published figure the rates are set against.</summary>
    internal const double Anchor = 150_000;

    internal static KvmCaseResult Case(int vcpus, string source, string order, List<KvmCaseRound> ours, List<KvmCaseRound> native)
    {
        var oursLatency = Latency.Median(ours.Select(r => r.Latency));
        var nativeLatency = Latency.Median(native.Select(r => r.Latency));
        var oursRate = Stats.Median(ours.Select(r => r.PagesPerSecond));
        var nativeRate = Stats.Median(native.Select(r => r.PagesPerSecond));
        return new KvmCaseResult(
            vcpus,
            source,
            order,
            oursLatency,
            nativeLatency,
            Stats.Ratio(oursLatency.P50Us, nativeLatency.P50Us),
            oursRate,
            nativeRate,
            Stats.Ratio(oursRate, nativeRate),
            Stats.Ratio(oursRate, Anchor));
    }

    /// <summary>Writes the report as a table.</summary>
    internal void Write(TextWriter output)
    {
        output.WriteLine($"KVM guest first touches: {PagesPerCase} pages per case, median of {Rounds} rounds; fault-poll-max {FaultPollMaxUs} us; anchor: demand_paging_test {Anchor:N0} pages/s at 1 vCPU on bare metal");
        output.WriteLine($"{"vcpus",5} {"source",-8} {"order",-7} {"ours p50",9} {"p99",9} {"native p50",10} {"p99",9} {"ratio",6} {"ours pages/s",13} {"native",10} {"ratio",6} {"vs anchor",9}");
        foreach (var c in Cases)
        {
            output.WriteLine(
                $"{c.Vcpus,5} {c.Source,-8} {c.Order,-7} {c.Ours.P50Us,9:F1} {c.Ours.P99Us,9:F1} {c.Native.P50Us,10:F1} {c.Native.P99Us,9:F1} {c.P50Ratio,6:F2} {c.OursPagesPerS,13:N0} {c.NativePagesPerS,10:N0} {c.RateRatio,6:F2} {c.AnchorRatio,9:F2}");
        }

        foreach (var note in Notes)
        {
            output.WriteLine($"note: {note}");
        }
    }
}
