using VmmSwap.Cli.Control;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary>
/// <c>exit</c> sent over the control socket to an interactive demo: the runtime swaps every page
/// back in and stops; the demo, as a VMM would, verifies every page and reports.
/// </summary>
public sealed class InteractiveDemoExitTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-swap-demo-exit-").FullName;

    private string SocketPath => Path.Combine(_dir, "vs.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Exit_from_a_client_makes_the_demo_verify_every_page_report_and_exit_0_and_a_later_status_says_the_runtime_stopped()
    {
        using var demo = InteractiveDemo.Start(SocketPath, "--guest-mib", "16", "--idle-seconds", "1");
        await demo.UntilSaidAsync("the guest is paused; waiting for commands on " + SocketPath);
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"enable {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Pending");
        await demo.UntilSaidAsync("the guest is paused");
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"out {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Active");
        await demo.UntilSaidAsync("the guest is paused");

        // Prefetch, which demo --help lists, is served: it starts, and Active stays (exit aborts it if it still runs).
        var prefetch = await CliRun.StartAsync($"prefetch {SocketPath}");
        Assert.True(prefetch.ExitCode == ControlVerbs.ExitOk, $"exit {prefetch.ExitCode}: {prefetch.Stderr}");

        // Pages are in the swap file; exit brings them all back before the runtime stops.
        using (var deadline = new CancellationTokenSource(Deadline))
        using (var client = await ControlClient.ConnectAsync(SocketPath, deadline.Token))
        {
            var exit = await client.RequestAsync("exit", "default", deadline.Token);
            Assert.True((bool?)exit["ok"], exit.ToJsonString());
        }

        // The demo is still up (it verifies first): its socket says the runtime has stopped, not
        // that it has no such guest.
        var status = await CliRun.StartAsync($"status {SocketPath}");
        Assert.False(demo.HasExited, "the demo ended before the status was asked");
        Assert.True(status.ExitCode == ControlVerbs.ExitFailed, $"exit {status.ExitCode}: {status.Stderr}");
        Assert.Contains("(runtime_stopped)", status.Stderr, StringComparison.Ordinal);

        var (exitCode, report, said) = await demo.EndedAsync();
        Assert.True(exitCode == Program.ExitOk, $"exit {exitCode}: {said}");
        Assert.NotNull(report);
        var phases = report["phases"]!.AsArray().Select(p => (string?)p!["name"]).ToList();
        Assert.Equal(["fill", "enable", "guest-run", "guest-idle"], phases.Take(4));
        Assert.Equal("verify", phases[^1]);
        Assert.True((bool?)report["integrity"]!["verified"]);
        Assert.Equal(0, (int?)report["integrity"]!["mismatched_count"]);
        Assert.True((bool?)report["integrity"]!["ok"]);
        Assert.Null(report["error"]);
        Assert.True((bool?)report["runtime_stopped"]);
        Assert.Contains("vmm-swap demo: the vmm-swap runtime has stopped", said, StringComparison.Ordinal);
    }
}
