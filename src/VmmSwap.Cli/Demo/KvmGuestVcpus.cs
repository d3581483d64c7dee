using System.Diagnostics;
using VmmSwap.Core.Guest;
using VmmSwap.Guest.Host;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// vCPUs as KVM vCPUs (<see cref="KvmGuestHost"/>): each runs the guest program over its share
/// on its own thread, checks its pages against the checksums it keeps, and times every first
/// touch with rdtsc, so the fault latency is the one the guest saw.
/// </summary>
public sealed class KvmGuestVcpus : IGuestVcpus
{
    // Between sweeps: an idle guest touches its pages now and then; a spinning one would take
    // the cores the fault handler needs and measure contention instead.
    private static readonly TimeSpan SweepPause = TimeSpan.FromMilliseconds(10);

    private readonly KvmGuestHost _host;

    /// <summary>
    /// Creates the VM over the filled <paramref name="guest"/>, one vCPU per share of
    /// <paramref name="shares"/>. Before Enable: each page's checksum is read from the memfd now.
    /// </summary>
    public KvmGuestVcpus(GuestMemory guest, IReadOnlyList<long[]> shares, int seed)
    {
        ArgumentNullException.ThrowIfNull(shares);
        _host = KvmGuestHost.Create(guest, shares, new KvmGuestOptions(Seed: seed));
        OwnPages = shares.SelectMany(s => s).ToHashSet();
    }

    /// <inheritdoc />
    public VcpuKind Kind => VcpuKind.Kvm;

    /// <inheritdoc />
    public IReadOnlySet<long> OwnPages { get; }

    /// <inheritdoc />
    public void SwapEnabled() => _host.ForgetFirstTouches();

    /// <inheritdoc />
    public async Task<GuestRunResult> RunAsync(TimeSpan duration, double sliceFraction, Action<TimeSpan, long> progress, CancellationToken interrupt)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var limits = Enumerable.Range(0, _host.VcpuCount).Select(v => (long)Math.Ceiling(_host.Pages(v).Count * sliceFraction)).ToArray();
        var clock = Stopwatch.StartNew();
        using var run = _host.Start(limits, sweeps: 0, SweepPause);

        // Ended early only when the watchdog stopped a stalled vCPU: Stop then says which and where.
        while (clock.Elapsed < duration && !interrupt.IsCancellationRequested && !run.Ended)
        {
            progress(clock.Elapsed, run.FirstTouches);
            var left = duration - clock.Elapsed;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(left.TotalMilliseconds, 0, 50)), CancellationToken.None).ConfigureAwait(false);
        }

        var results = await Task.Run(run.Stop, CancellationToken.None).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        var faults = results.Sum(r => r.FirstTouches);
        progress(elapsed, faults);
        return new GuestRunResult(
            faults,
            results.Sum(r => r.Accesses),
            results.Sum(r => r.Writes),
            elapsed,
            [.. results.SelectMany(r => r.FirstTouchMicroseconds).Select(us => (long)Math.Round(us * Stopwatch.Frequency / 1e6))],
            [.. results.SelectMany(r => r.MismatchedPages).Distinct().Order()],
            StuckVcpus: 0);
    }

    /// <inheritdoc />
    public IReadOnlyList<long> VerifyOwnPages() => _host.VerifyPages();

    /// <inheritdoc />
    public void Dispose() => _host.Dispose();
}
