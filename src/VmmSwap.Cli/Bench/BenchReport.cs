namespace VmmSwap.Cli.Bench;

/// <summary>
/// The whole bench: machine, per-size results, the jobs against their limits, growth across sizes
/// and the targets; FaultPollMaxUs is the runtime's <c>fault-poll-max</c> it ran with (0: polling off).
/// </summary>
internal sealed record BenchReport(
    MachineInfo Machine,
    IReadOnlyList<int> SizesMib,
    int Rounds,
    string SwapDir,
    long FaultPollMaxUs,
    NativeInfo NativeRef,
    IReadOnlyList<string> Notes,
    IReadOnlyList<SizeResult> Results,
    IReadOnlyList<MultiThreadResult> MultiThreadFaults,
    IReadOnlyList<LimitResult> Limits,
    IReadOnlyList<Growth> Growth,
    IReadOnlyList<TargetResult> Targets);

internal sealed record MachineInfo(int Nproc, long MemoryBytes, string Kernel, string Cpu);

internal sealed record NativeInfo(bool Built, string Compiler, string Source);

internal sealed record SizeResult(
    int SizeMib,
    long FaultPagesPerCase,
    IReadOnlyList<FaultResult> Faults,
    FaultThreadCpuResult FaultThreadCpu,
    Throughput Enable,
    TrimResult Trim,
    SwapOutThroughput SwapOut,
    Throughput SwapIn,
    DuringJobs DuringJobs,
    MemoryResult Memory,
    WorkingSetResult WorkingSet);

internal sealed record FaultResult(string Source, string Order, Latency Ours, Latency Native, double P50Ratio, double P99Ratio);

/// <summary>
/// The fault thread's CPU in ms per second of guest time (median over rounds): over the fault
/// blocks of the fault-latency pass, and over a guest touching nothing after them.
/// </summary>
internal sealed record FaultThreadCpuResult(double FaultingMsPerS, double IdleMsPerS);

internal sealed record Throughput(double OursGibPerS, double NativeGibPerS, double Ratio);

/// <summary>
/// Swap-out against plain pwrite (the reference, into the page cache) and against pwrite
/// with the same flush the runtime does before it reports Active (writeback, fdatasync, cache dropped).
/// </summary>
internal sealed record SwapOutThroughput(double OursGibPerS, double NativeGibPerS, double Ratio, double NativeFlushedGibPerS, double FlushedRatio);

internal sealed record TrimResult(double PagesPerS, long StagedPages, long DroppedPages, int ZeroPercent, int CleanPercent);

internal sealed record DuringJobs(int GuestMib, Latency IdleStaging, Latency IdleFile, JobFaults Trim, JobFaults SwapOut, JobFaults SwapIn);

/// <summary>Faults taken while a job ran; the ratio is p99 over the idle p99 of the same source.</summary>
internal sealed record JobFaults(Latency During, double P99VsIdle);

internal sealed record MemoryResult(
    double HeapBytesPerGib,
    double RssAnonBytesPerGib,
    long VmRssBeforeBytes,
    long VmRssActiveBytes,
    long HostBeforeBytes,
    long HostActiveBytes,
    double HostReleasedFraction,
    long SwapPageCacheBytes);

/// <summary>How a figure changes from the smallest to the largest size (largest / smallest).</summary>
internal sealed record Growth(string Figure, double Smallest, double Largest, double Ratio);

internal sealed record TargetResult(string Name, string Target, int SizeMib, double Value, bool Met);

/// <summary>What the native reference gave in one round.</summary>
internal sealed record NativeRound(Dictionary<string, Latency> Faults, double EnableGibS, double SwapOutGibS, double SwapOutFlushedGibS, double SwapInGibS);

/// <summary>Turns rounds into medians, ratios, growth and target verdicts.</summary>
internal static class ReportBuilder
{
    // The "~0" for a guest touching nothing: 1% of a core.
    internal const double IdleCpuTargetMsPerS = 10;

    internal static readonly (string Source, string Order)[] FaultCases =
        [("staging", "seq"), ("staging", "random"), ("file", "seq"), ("file", "random"), ("zero", "seq"), ("zero", "random")];

    internal static SizeResult Size(int sizeMib, long faultPages, IReadOnlyList<OurRound> ours, IReadOnlyList<NativeRound> native)
    {
        var faults = FaultCases.Select(c =>
        {
            var key = $"{c.Source}/{c.Order}";
            var o = Latency.Median(ours.Select(r => r.Faults[key]));
            var n = Latency.Median(native.Select(r => r.Faults[key]));
            return new FaultResult(c.Source, c.Order, o, n, Stats.Ratio(o.P50Us, n.P50Us), Stats.Ratio(o.P99Us, n.P99Us));
        }).ToList();

        Throughput Pair(Func<OurRound, double> o, Func<NativeRound, double> n)
        {
            var ourMedian = Stats.Median(ours.Select(o));
            var nativeMedian = Stats.Median(native.Select(n));
            return new Throughput(ourMedian, nativeMedian, Stats.Ratio(ourMedian, nativeMedian));
        }

        SwapOutThroughput SwapOut()
        {
            var plain = Pair(r => r.SwapOutGibS, r => r.SwapOutGibS);
            var flushed = Stats.Median(native.Select(r => r.SwapOutFlushedGibS));
            return new SwapOutThroughput(plain.OursGibPerS, plain.NativeGibPerS, plain.Ratio, flushed, Stats.Ratio(plain.OursGibPerS, flushed));
        }

        var idleStaging = Latency.Median(ours.Select(r => r.IdleStaging));
        var idleFile = Latency.Median(ours.Select(r => r.IdleFile));
        JobFaults Job(Func<OurRound, Latency> during, Latency idle)
        {
            var l = Latency.Median(ours.Select(during));
            return new JobFaults(l, Stats.Ratio(l.P99Us, idle.P99Us));
        }

        var gib = sizeMib / 1024.0;
        var hostBefore = (long)Stats.Median(ours.Select(r => (double)r.HostBeforeBytes));
        var hostActive = (long)Stats.Median(ours.Select(r => (double)r.HostActiveBytes));
        var memory = new MemoryResult(
            Stats.Median(ours.Select(r => (double)r.HeapDeltaBytes)) / gib,
            Stats.Median(ours.Select(r => (double)r.RssAnonDeltaBytes)) / gib,
            (long)Stats.Median(ours.Select(r => (double)r.VmRssBeforeBytes)),
            (long)Stats.Median(ours.Select(r => (double)r.VmRssActiveBytes)),
            hostBefore,
            hostActive,
            hostBefore > 0 ? 1 - ((double)hostActive / hostBefore) : 0,
            (long)Stats.Median(ours.Select(r => (double)r.SwapPageCacheBytes)));

        return new SizeResult(
            sizeMib,
            faultPages,
            faults,
            new FaultThreadCpuResult(Stats.Median(ours.Select(r => r.FaultThreadCpu.MsPerSecond)), Stats.Median(ours.Select(r => r.IdleFaultThreadCpu.MsPerSecond))),
            Pair(r => r.EnableGibS, r => r.EnableGibS),
            new TrimResult(Stats.Median(ours.Select(r => r.TrimPagesPerS)), (long)Stats.Median(ours.Select(r => (double)r.TrimPages)), (long)Stats.Median(ours.Select(r => (double)r.TrimDropped)), 30, 30),
            SwapOut(),
            Pair(r => r.SwapInGibS, r => r.SwapInGibS),
            new DuringJobs(Math.Max(sizeMib, BenchOptions.MinJobGuestMib), idleStaging, idleFile, Job(r => r.DuringTrim, idleStaging), Job(r => r.DuringSwapOut, idleStaging), Job(r => r.DuringSwapIn, idleFile)),
            memory,
            WorkingSetResult.Median([.. ours.Select(r => r.WorkingSet!)]));
    }

    internal static List<Growth> Growth(IReadOnlyList<SizeResult> results)
    {
        var first = results[0];
        var last = results[^1];
        var growth = new List<Growth>();
        void Add(string name, Func<SizeResult, double> figure) => growth.Add(new Growth(name, figure(first), figure(last), Stats.Ratio(figure(last), figure(first))));

        foreach (var f in FaultCases)
        {
            Add($"fault {f.Source}/{f.Order} p50 us", r => r.Faults.First(x => x.Source == f.Source && x.Order == f.Order).Ours.P50Us);
            Add($"fault {f.Source}/{f.Order} p99 us", r => r.Faults.First(x => x.Source == f.Source && x.Order == f.Order).Ours.P99Us);
        }

        Add("enable GiB/s", r => r.Enable.OursGibPerS);
        Add("trim pages/s", r => r.Trim.PagesPerS);
        Add("swap-out GiB/s", r => r.SwapOut.OursGibPerS);
        Add("swap-in GiB/s", r => r.SwapIn.OursGibPerS);
        Add("during trim p99 / idle", r => r.DuringJobs.Trim.P99VsIdle);
        Add("during swap-out p99 / idle", r => r.DuringJobs.SwapOut.P99VsIdle);
        Add("during swap-in p99 / idle", r => r.DuringJobs.SwapIn.P99VsIdle);
        Add("managed heap bytes per GiB", r => r.Memory.HeapBytesPerGib);
        Add("RssAnon bytes per GiB", r => r.Memory.RssAnonBytesPerGib);
        return growth;
    }

    internal static List<TargetResult> Targets(IReadOnlyList<SizeResult> results)
    {
        var targets = new List<TargetResult>();
        foreach (var r in results)
        {
            foreach (var f in r.Faults)
            {
                targets.Add(new TargetResult($"fault {f.Source}/{f.Order} p50 / native", "<= 1.3", r.SizeMib, f.P50Ratio, f.P50Ratio <= 1.3));
                targets.Add(new TargetResult($"fault {f.Source}/{f.Order} p99 / native", "<= 2.0", r.SizeMib, f.P99Ratio, f.P99Ratio <= 2.0));
            }

            targets.Add(new TargetResult("idle fault thread CPU ms/s", $"<= {IdleCpuTargetMsPerS} (~0)", r.SizeMib, r.FaultThreadCpu.IdleMsPerS, r.FaultThreadCpu.IdleMsPerS <= IdleCpuTargetMsPerS));
            targets.Add(new TargetResult("p99 during trim / idle", "<= 2.0", r.SizeMib, r.DuringJobs.Trim.P99VsIdle, r.DuringJobs.Trim.P99VsIdle <= 2.0));
            targets.Add(new TargetResult("p99 during swap-out / idle", "<= 2.0", r.SizeMib, r.DuringJobs.SwapOut.P99VsIdle, r.DuringJobs.SwapOut.P99VsIdle <= 2.0));
            targets.Add(new TargetResult("p99 during swap-in / idle", "<= 1.5", r.SizeMib, r.DuringJobs.SwapIn.P99VsIdle, r.DuringJobs.SwapIn.P99VsIdle <= 1.5));
            targets.Add(new TargetResult("working set first: faults cut vs sequential swap-in", ">= 0.9", r.SizeMib, r.WorkingSet.FaultsCut, r.WorkingSet.FaultsCut >= 0.9));
            targets.Add(new TargetResult("working set first: touch time / never swapped", "<= 1.5", r.SizeMib, r.WorkingSet.TouchVsNeverSwapped, r.WorkingSet.TouchVsNeverSwapped <= 1.5));
            targets.Add(new TargetResult("prefetched: faults cut vs sequential swap-in", ">= 0.9", r.SizeMib, r.WorkingSet.PrefetchedFaultsCut, r.WorkingSet.PrefetchedFaultsCut >= 0.9));
            targets.Add(new TargetResult("prefetched: touch time / never swapped", "<= 1.5", r.SizeMib, r.WorkingSet.PrefetchedTouchVsNeverSwapped, r.WorkingSet.PrefetchedTouchVsNeverSwapped <= 1.5));
            targets.Add(new TargetResult("enable / native", ">= 0.8", r.SizeMib, r.Enable.Ratio, r.Enable.Ratio >= 0.8));
            targets.Add(new TargetResult("swap-out / pwrite", ">= 0.8", r.SizeMib, r.SwapOut.Ratio, r.SwapOut.Ratio >= 0.8));
            targets.Add(new TargetResult("swap-in / native", ">= 0.9", r.SizeMib, r.SwapIn.Ratio, r.SwapIn.Ratio >= 0.9));
            targets.Add(new TargetResult("managed heap KiB per GiB", "< 128", r.SizeMib, r.Memory.HeapBytesPerGib / 1024, r.Memory.HeapBytesPerGib / 1024 < 128));
        }

        return targets;
    }
}
