namespace VmmSwap.Guest.Vcpus;

/// <summary>
/// What one vCPU did in one run: sweeps, page visits, writes, first touches, the guest pages it
/// read back other than last written (its own check), and each first touch's latency as the
/// guest timed it with rdtsc, in microseconds.
/// </summary>
public sealed record VcpuRunResult(
    int Vcpu,
    long Sweeps,
    long Accesses,
    long Writes,
    long FirstTouches,
    long Mismatches,
    IReadOnlyList<long> MismatchedPages,
    IReadOnlyList<double> FirstTouchMicroseconds);
