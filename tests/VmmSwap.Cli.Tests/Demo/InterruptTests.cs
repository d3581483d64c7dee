using System.Diagnostics;
using System.Text.Json.Nodes;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary>Ctrl-C (the interrupt token) in any phase stops the guest, swaps everything back in, verifies and reports.</summary>
public sealed class InterruptTests
{
    [Fact]
    public async Task An_interrupt_before_the_fill_ends_verifies_what_was_written_and_exits_zero()
    {
        using var interrupt = new CancellationTokenSource();
        await interrupt.CancelAsync();

        var run = await CliRun.StartAsync("demo --guest-mib 16 --idle-seconds 1 --json", interrupt.Token);

        Assert.Equal(0, run.ExitCode);
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("fill", report["interrupted"]!.GetValue<string>());

        // Never enabled, so there is nothing to disable: the fill stops, the pages are verified.
        Assert.Equal(["fill", "verify"], PhaseNames(report));
        Assert.True(report["integrity"]!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task An_interrupt_while_swapped_out_swaps_everything_back_in_and_verifies()
    {
        // A long idle run, cut short: by 3 s the guest is swapped out and running idle.
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var clock = Stopwatch.StartNew();

        var run = await CliRun.StartAsync("demo --guest-mib 16 --idle-seconds 60 --json", interrupt.Token);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"the interrupt was not acted on: the run took {clock.Elapsed}");
        Assert.Equal(0, run.ExitCode);
        var report = JsonNode.Parse(run.Stdout)!;
        // Usually the idle run; on a loaded machine the 3 s may end an earlier swap phase. Either way
        // the phases stop there and disable + verify still run.
        var interrupted = report["interrupted"]!.GetValue<string>();
        Assert.Equal("SIGINT", report["interrupted_by"]!.GetValue<string>());
        string[] swapPhases = ["enable", "guest-run", "trim", "swap-out", "guest-idle"];
        Assert.Contains(interrupted, swapPhases);
        var expected = new[] { "fill" }.Concat(swapPhases.TakeWhile(p => p != interrupted)).Append(interrupted).Append("disable").Append("verify");
        Assert.Equal(expected, PhaseNames(report));
        Assert.True(report["integrity"]!["ok"]!.GetValue<bool>());
        var disable = report["phases"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "disable")!;
        Assert.Equal("Ready", disable["status"]!["state"]!.GetValue<string>());
        Assert.True(disable["pages"]!.GetValue<long>() > 0);
    }

    private static string[] PhaseNames(JsonNode report) =>
        [.. report["phases"]!.AsArray().Select(p => p!["name"]!.GetValue<string>())];
}
