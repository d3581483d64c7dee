namespace VmmSwap.Cli.Demo;

/// <summary>The demo guest's vCPUs, of either kind: they sweep their share of the hot pages while the guest runs.</summary>
public interface IGuestVcpus : IDisposable
{
    /// <summary>What runs them.</summary>
    VcpuKind Kind { get; }

    /// <summary>
    /// Pages whose contents the vCPUs check themselves (the workload's reference does not follow
    /// their writes to them): <see cref="VerifyOwnPages"/> verifies them. Empty when the reference does.
    /// </summary>
    IReadOnlySet<long> OwnPages { get; }

    /// <summary>Enable has moved every page out of the guest: every page's next touch is a fault again.</summary>
    void SwapEnabled();

    /// <summary>
    /// Runs the vCPUs for <paramref name="duration"/> (less if <paramref name="interrupt"/> fires),
    /// each sweeping the first <paramref name="sliceFraction"/> of its share again and again;
    /// <paramref name="progress"/> gets the elapsed time and the faults so far.
    /// </summary>
    Task<GuestRunResult> RunAsync(TimeSpan duration, double sliceFraction, Action<TimeSpan, long> progress, CancellationToken interrupt);

    /// <summary>Of <see cref="OwnPages"/>, those that are not what the vCPUs last wrote (with swap disabled).</summary>
    IReadOnlyList<long> VerifyOwnPages();
}
