using System.Diagnostics;
using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Demo;

/// <summary>vCPUs as .NET threads (<see cref="VirtualCpu"/>), which keep the workload's reference checksums up to date as they write.</summary>
public sealed class ThreadVcpus : IGuestVcpus
{
    // How long a stopping vCPU may take: it finishes at most one access, which may be one fault.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly VirtualCpu[] _vcpus;

    /// <summary>One thread per share of <paramref name="shares"/>, recording checksums of what they write in <paramref name="reference"/>.</summary>
    public ThreadVcpus(GuestMemory guest, ulong[] reference, IReadOnlyList<long[]> shares, int seed)
    {
        ArgumentNullException.ThrowIfNull(shares);
        _vcpus = [.. shares.Select((pages, v) => new VirtualCpu(v, guest, reference, pages, seed))];
    }

    /// <inheritdoc />
    public VcpuKind Kind => VcpuKind.Thread;

    /// <inheritdoc />
    public IReadOnlySet<long> OwnPages { get; } = new HashSet<long>();

    /// <inheritdoc />
    public void SwapEnabled()
    {
        foreach (var vcpu in _vcpus)
        {
            vcpu.ForgetTouches();
        }
    }

    /// <inheritdoc />
    public async Task<GuestRunResult> RunAsync(TimeSpan duration, double sliceFraction, Action<TimeSpan, long> progress, CancellationToken interrupt)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var counters = new GuestRunCounters();
        var clock = Stopwatch.StartNew();
        foreach (var vcpu in _vcpus)
        {
            vcpu.Start((int)Math.Ceiling(vcpu.Pages.Count * sliceFraction), counters);
        }

        var stuck = 0;
        try
        {
            while (clock.Elapsed < duration && !interrupt.IsCancellationRequested)
            {
                progress(clock.Elapsed, counters.Faults);
                // Clamped: the clock moves on between the loop test and here.
                var left = duration - clock.Elapsed;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(left.TotalMilliseconds, 0, 50)), CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            stuck = _vcpus.Count(vcpu => !vcpu.Stop(StopTimeout));
        }

        var elapsed = clock.Elapsed;
        progress(elapsed, counters.Faults);
        return new GuestRunResult(
            counters.Faults,
            counters.Accesses,
            counters.Writes,
            elapsed,
            [.. _vcpus.SelectMany(v => v.Latencies)],
            [.. _vcpus.SelectMany(v => v.ReadMismatches).Distinct().Order()],
            stuck);
    }

    /// <inheritdoc />
    public IReadOnlyList<long> VerifyOwnPages() => [];

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
