namespace VmmSwap.Cli.Bench;

/// <summary>The multi-thread file-fault case at one guest size.</summary>
/// <param name="SizeMib">Guest size the page count was taken from.</param>
/// <param name="Cases">One per thread count and order.</param>
internal sealed record MultiThreadResult(int SizeMib, IReadOnlyList<MultiThreadCase> Cases);

/// <summary>
/// One thread count and order: ours against native_ref with one uffd and handler thread, and with
/// one uffd and handler thread per guest thread's share; ratios are ours / native.
/// </summary>
internal sealed record MultiThreadCase(
    int Threads,
    string Order,
    long Pages,
    FaultBurst Ours,
    FaultBurst NativeOneUffd,
    FaultBurst NativeUffdPerThread,
    double P50VsOneUffd,
    double P99VsOneUffd,
    double P50VsUffdPerThread,
    double P99VsUffdPerThread);

/// <summary>Turns the multi-thread case's rounds (keyed by <see cref="MultiThreadFaults.Key"/>) into medians, ratios and targets.</summary>
internal static class MultiThreadReport
{
    /// <summary>What native_ref gave for one case in one round, under its two handler designs.</summary>
    internal sealed record NativePair(FaultBurst OneUffd, FaultBurst UffdPerThread);

    internal static MultiThreadResult Size(int sizeMib, long guestPages, IReadOnlyList<Dictionary<string, FaultBurst>> ours, IReadOnlyList<Dictionary<string, NativePair>> native)
    {
        var cases = MultiThreadFaults.Cases.Select(c =>
        {
            var key = MultiThreadFaults.Key(c.Threads, c.Order);
            var o = FaultBurst.Median(ours.Select(r => r[key]));
            var one = FaultBurst.Median(native.Select(r => r[key].OneUffd));
            var split = FaultBurst.Median(native.Select(r => r[key].UffdPerThread));
            return new MultiThreadCase(
                c.Threads,
                c.Order,
                MultiThreadFaults.Pages(guestPages, c.Threads),
                o,
                one,
                split,
                Stats.Ratio(o.P50Us, one.P50Us),
                Stats.Ratio(o.P99Us, one.P99Us),
                Stats.Ratio(o.P50Us, split.P50Us),
                Stats.Ratio(o.P99Us, split.P99Us));
        }).ToList();
        return new MultiThreadResult(sizeMib, cases);
    }

    internal static List<TargetResult> Targets(IReadOnlyList<MultiThreadResult> results)
    {
        var targets = new List<TargetResult>();
        foreach (var r in results)
        {
            foreach (var c in r.Cases.Where(c => c.Threads >= MultiThreadFaults.MinTargetThreads))
            {
                targets.Add(new TargetResult($"multi-thread file fault {c.Order} p99 / native one uffd, {c.Threads} threads", "<= 1.0", r.SizeMib, c.P99VsOneUffd, c.P99VsOneUffd <= 1.0));
                targets.Add(new TargetResult($"multi-thread file fault {c.Order} p99 / native uffd per thread, {c.Threads} threads", "<= 1.0", r.SizeMib, c.P99VsUffdPerThread, c.P99VsUffdPerThread <= 1.0));
            }
        }

        return targets;
    }
}
