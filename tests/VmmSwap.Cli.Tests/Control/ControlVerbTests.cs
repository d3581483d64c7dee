using System.Diagnostics;
using VmmSwap.Actors;
using VmmSwap.Cli.Common;
using VmmSwap.Cli.Control;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Tests.Control;

/// <summary>
/// <c>vmm-swap enable|trim|out|disable|status SOCKET</c> against a running host (the demo's
/// runtime, with its control socket) and against a running demo process: output and exit codes.
/// </summary>
public sealed class ControlVerbTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-swap-verbs-").FullName;

    private string SocketPath => Path.Combine(_dir, "vs.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Every_verb_against_a_running_host_prints_and_exits_as_its_help_says()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(64));
        guest.Write(guest.PageAddress(3), new byte[PageSize.Bytes / 2].Select(_ => (byte)7).ToArray());
        using var logger = DemoLogging.CreateLogger(TextWriter.Null);
        await using var runtime = await SwapRuntime.StartAsync(guest, Path.GetTempPath(), logger, CancellationToken.None, SocketPath);
        var swap = runtime.Controller;

        var status = await CliRun.StartAsync($"status {SocketPath}");
        Assert.Equal(ControlVerbs.ExitOk, status.ExitCode);
        var line = Assert.Single(status.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(StatusJson.Serialize(await swap.StatusAsync()), line);
        Assert.Equal(SwapState.Ready, StatusJson.Parse(line).State);

        var refused = await CliRun.StartAsync($"out {SocketPath}");
        Assert.Equal(ControlVerbs.ExitNotValidInState, refused.ExitCode);
        Assert.StartsWith("vmm-swap out: not valid in state Ready: ", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, refused.Stdout);

        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"enable {SocketPath}")).ExitCode);
        Assert.Equal(SwapState.Pending, (await swap.StatusAsync()).State);
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"trim {SocketPath}")).ExitCode);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"out --guest default {SocketPath}")).ExitCode);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        var pretty = await CliRun.StartAsync($"status --pretty {SocketPath}");
        Assert.Equal(ControlVerbs.ExitOk, pretty.ExitCode);
        Assert.True(pretty.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 10);
        Assert.Equal(SwapState.Active, StatusJson.Parse(pretty.Stdout).State);

        // Prefetch needs the working set recorded, off by default: refused, saying so, nothing changed.
        var prefetch = await CliRun.StartAsync($"prefetch {SocketPath}");
        Assert.Equal(ControlVerbs.ExitFailed, prefetch.ExitCode);
        Assert.Contains("working-set-first = on", prefetch.Stderr, StringComparison.Ordinal);
        Assert.Equal(SwapState.Active, (await swap.StatusAsync()).State);

        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"disable {SocketPath}")).ExitCode);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        var noGuest = await CliRun.StartAsync($"status --guest vm-9 {SocketPath}");
        Assert.Equal(ControlVerbs.ExitBadInput, noGuest.ExitCode);
        Assert.Contains("no guest 'vm-9'", noGuest.Stderr, StringComparison.Ordinal);

        var noSocket = await CliRun.StartAsync($"status {Path.Combine(_dir, "absent.sock")}");
        Assert.Equal(ControlVerbs.ExitUnreachable, noSocket.ExitCode);
        Assert.Contains("there is no such file", noSocket.Stderr, StringComparison.Ordinal);

        var noArgument = await CliRun.StartAsync("status");
        Assert.Equal(Program.ExitBadInput, noArgument.ExitCode);
    }

    [Fact]
    public async Task Each_verbs_help_lists_its_exit_codes()
    {
        foreach (var verb in new[] { "enable", "trim", "out", "disable", "prefetch", "status" })
        {
            var help = await CliRun.StartAsync($"{verb} --help");
            Assert.Equal(0, help.ExitCode);
            Assert.Contains("<SOCKET>", help.Stdout, StringComparison.Ordinal);
            Assert.Contains("--guest", help.Stdout, StringComparison.Ordinal);
            foreach (var code in new[] { "0 done", "1 failed", "2 bad command line", "3 not valid in the current state", "4 the socket could not be reached" })
            {
                Assert.Contains(code, help.Stdout, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task An_unknown_verb_is_named_as_unknown()
    {
        var run = await CliRun.StartAsync("frobnicate");

        Assert.Equal(Program.ExitBadInput, run.ExitCode);
        Assert.StartsWith("vmm-swap: unknown command 'frobnicate'; the commands are ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("status", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_reaches_a_running_demo_through_its_control_socket_which_is_gone_after_it()
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { typeof(Program).Assembly.Location, "demo", "--json", "--guest-mib", "16", "--idle-seconds", "4", "--control-socket", SocketPath })
        {
            start.ArgumentList.Add(arg);
        }

        using var demo = Process.Start(start)!;
        var stdout = demo.StandardOutput.ReadToEndAsync();
        var stderr = demo.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(SocketPath) && !demo.HasExited)
        {
            Assert.True(deadline.Elapsed < Deadline, "the demo opened no control socket");
            await Task.Delay(20);
        }

        var status = await CliRun.StartAsync($"status {SocketPath}");
        Assert.Equal(ControlVerbs.ExitOk, status.ExitCode);
        Assert.True(Enum.IsDefined(StatusJson.Parse(status.Stdout).State), status.Stdout);

        await demo.WaitForExitAsync().WaitAsync(Deadline);
        Assert.True(demo.ExitCode == 0, await stderr);
        Assert.Contains("\"integrity\"", await stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task An_interactive_demo_waits_for_commands_from_another_terminal_and_verifies_every_page_after_disable()
    {
        using var demo = InteractiveDemo.Start(SocketPath, "--guest-mib", "16", "--idle-seconds", "1");
        var said = demo.Said;
        await demo.UntilSaidAsync("a device process can attach with: device_process " + SocketPath);
        var regions = said[^1][(said[^1].IndexOf(SocketPath, StringComparison.Ordinal) + SocketPath.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        await demo.UntilSaidAsync("the guest is paused; waiting for commands on " + SocketPath);

        // The C device process maps the demo's guest at its own addresses and attaches over the socket.
        using var device = VmmSwap.Testing.DeviceProcess.Start(SocketPath, regions);
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"enable {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Pending");
        await demo.UntilSaidAsync("the guest is paused");
        var status = await CliRun.StartAsync($"status {SocketPath}");
        Assert.Equal(SwapState.Pending, StatusJson.Parse(status.Stdout).State);

        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"out {SocketPath}")).ExitCode);
        await demo.UntilSaidAsync("vmm-swap is Active");
        await demo.UntilSaidAsync("the guest is paused");

        // Swapped out: the device process's reads are faults the runtime serves into its mapping.
        // The guest is paused from here to the end, so these are the pages the demo verifies.
        var swappedOut = Enumerable.Range(0, 16).Select(p => device.ReadPage(p)).ToList();
        Assert.Contains(swappedOut, h => h != VmmSwap.Testing.DeviceProcess.HashOf(null, PageSize.Bytes));
        Assert.Equal(ControlVerbs.ExitOk, (await CliRun.StartAsync($"disable {SocketPath}")).ExitCode);

        var (exitCode, report, stderr) = await demo.EndedAsync();
        Assert.True(exitCode == 0, stderr);
        Assert.NotNull(report);
        Assert.Equal(["fill", "enable", "guest-run", "guest-idle", "disable", "verify"], report["phases"]!.AsArray().Select(p => (string?)p!["name"]));
        Assert.Equal(0, (int?)report["integrity"]!["mismatched_count"]);
        Assert.True((bool?)report["integrity"]!["verified"]);
        Assert.False((bool?)report["runtime_stopped"]);

        // The demo is gone; the device process's mapping still holds the guest's memfds as verified.
        Assert.Equal(swappedOut, Enumerable.Range(0, 16).Select(p => device.ReadPage(p)));
    }

    [Fact]
    public async Task Interactive_without_a_control_socket_is_refused_and_demo_help_says_how_to_drive_it()
    {
        var refused = await CliRun.StartAsync("demo --interactive");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--interactive waits for commands on a control socket; pass --control-socket PATH too", refused.Stderr, StringComparison.Ordinal);

        var help = await CliRun.StartAsync("demo --help");
        Assert.Contains("--interactive", help.Stdout, StringComparison.Ordinal);
        foreach (var verb in new[] { "enable", "status", "trim", "out", "prefetch", "disable" })
        {
            Assert.Contains($"vmm-swap {verb} PATH", help.Stdout, StringComparison.Ordinal);
        }
    }
}
