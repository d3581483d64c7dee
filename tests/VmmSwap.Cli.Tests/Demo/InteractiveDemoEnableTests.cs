using VmmSwap.Cli.Control;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary>
/// An Enable sent from another terminal while the interactive demo's guest runs: the runtime
/// pauses the demo's vCPUs for the move (IGuestPause), as crosvm's VMM does for swap enable.
/// Before it did, a guest write during the move was lost and the demo's check found hundreds of
/// pages wrong.
/// </summary>
public sealed class InteractiveDemoEnableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-swap-demo-enable-").FullName;

    private string SocketPath => Path.Combine(_dir, "vs.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("kvm")]
    [InlineData("thread")]
    public async Task Enables_sent_while_the_guest_runs_pause_it_for_the_move_and_every_page_is_intact(string vcpuKind)
    {
        if (vcpuKind == "kvm" && !File.Exists("/dev/kvm"))
        {
            // The KVM case needs /dev/kvm; the thread case covers the same path without it.
            vcpuKind = "thread";
        }

        using var demo = InteractiveDemo.Start(SocketPath, "--guest-mib", "64", "--idle-seconds", "8", "--vcpu-kind", vcpuKind);
        await demo.UntilSaidAsync("the guest is paused; waiting for commands on " + SocketPath);
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"enable {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Pending");
        await demo.UntilSaidAsync("the guest is paused");
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"out {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Active");

        // The guest now runs for 8 s, writing; each enable moves its memory to staging meanwhile.
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(700));
            var enable = await CliRun.StartAsync($"enable {SocketPath}");
            Assert.True(enable.ExitCode == ControlVerbs.ExitOk, $"enable {i}: exit {enable.ExitCode}: {enable.Stderr}");
        }

        await demo.UntilSaidAsync("the guest is paused");
        var disable = await CliRun.StartAsync($"disable {SocketPath}");
        Assert.True(disable.ExitCode == ControlVerbs.ExitOk, $"disable: exit {disable.ExitCode}: {disable.Stderr}");

        var (exitCode, report, said) = await demo.EndedAsync();
        Assert.True(exitCode == Program.ExitOk, $"exit {exitCode}: {said}");
        Assert.NotNull(report);
        Assert.Equal(0, (int?)report["integrity"]!["mismatched_count"]);
        Assert.True((bool?)report["integrity"]!["ok"], report["integrity"]!.ToJsonString());
    }
}
