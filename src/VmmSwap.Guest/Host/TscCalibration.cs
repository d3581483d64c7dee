using System.Diagnostics;
using VmmSwap.Guest.Vcpus;

namespace VmmSwap.Guest.Host;

/// <summary>
/// Measures the guest's TSC rate against the host's clock: vCPU 0 runs empty sweeps with a pause
/// after each, and every sweep reports the guest's TSC by MMIO; the rate is the TSC's advance
/// over the host clock's between the first and the last report. The error is one exit's jitter
/// (tens of microseconds) over the span, well under 1%.
/// </summary>
internal static class TscCalibration
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(20);
    private const int Reports = 6;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    internal static double Measure(VcpuRunner vcpu)
    {
        vcpu.Start(limit: 0, sweeps: 0, Pause);
        var clock = Stopwatch.StartNew();
        while (vcpu.Sweeps < Reports && !vcpu.Ended && clock.Elapsed < Deadline)
        {
            Thread.Sleep(Pause);
        }

        vcpu.RequestStop();
        if (!vcpu.Join(Deadline))
        {
            throw new GuestVcpuFailedException(vcpu.Id, "did not leave KVM_RUN while the TSC was being calibrated");
        }

        if (vcpu.Failure is { } failure)
        {
            throw new GuestVcpuFailedException(vcpu.Id, "failed while the TSC was being calibrated", failure);
        }

        if (vcpu.ProgressSpan is not { } span || span.Last.Ticks <= span.First.Ticks || span.Last.Tsc <= span.First.Tsc)
        {
            throw new GuestVcpuFailedException(vcpu.Id, $"reported {vcpu.Sweeps} empty sweeps in {clock.Elapsed.TotalSeconds:F1} s, too few to calibrate the TSC");
        }

        var seconds = (double)(span.Last.Ticks - span.First.Ticks) / Stopwatch.Frequency;
        return (span.Last.Tsc - span.First.Tsc) / seconds;
    }
}
