using System.Diagnostics;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary><c>demo --metrics console</c>: the runtime's meter exported by OpenTelemetry's console exporter, in a real demo process.</summary>
public sealed class ConsoleMetricsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task The_demo_exports_the_runtimes_fault_durations_and_jobs_to_the_console()
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[typeof(Program).Assembly.Location, "demo", "--guest-mib", "16", "--idle-seconds", "1", "--vcpu-kind", "thread", "--metrics", "console"])
        {
            start.ArgumentList.Add(arg);
        }

        using var demo = Process.Start(start)!;
        var stdout = demo.StandardOutput.ReadToEndAsync();
        var stderr = demo.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Deadline);
        await demo.WaitForExitAsync(deadline.Token);
        var output = await stdout;

        Assert.True(demo.ExitCode == Program.ExitOk, $"exit {demo.ExitCode}: {await stderr}");
        Assert.Contains("integrity: ok", output, StringComparison.Ordinal);

        // The exporter's last export, at the demo's end, holds what accumulated: faults by source and the jobs.
        Assert.Contains("vmm_swap.fault.duration", output, StringComparison.Ordinal);
        Assert.Contains("vmm_swap.fault.source: staging", output, StringComparison.Ordinal);
        Assert.Contains("vmm_swap.job.pages", output, StringComparison.Ordinal);
        Assert.Contains("vmm_swap.job: swap_out", output, StringComparison.Ordinal);
    }
}
