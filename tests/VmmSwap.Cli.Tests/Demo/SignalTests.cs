using System.Diagnostics;
using System.Text.Json.Nodes;
using Mono.Unix.Native;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary>
/// A signal to the real <c>vmm-swap</c> process acts as Ctrl-C in the demo: the guest stops, every
/// page is swapped back in, verified and reported, and the report names the signal.
/// </summary>
public sealed class SignalTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    private const long ProbeFileBytes = 2 * 4096;

    [Fact]
    public async Task Sigterm_while_pages_are_in_the_swap_file_swaps_everything_back_in_verifies_and_reports()
    {
        var swapDir = Directory.CreateTempSubdirectory("vmm-swap-sigterm-");
        try
        {
            using var demo = StartVmmSwap("demo", "--guest-mib", "16", "--idle-seconds", "30", "--json", "--swap-dir", swapDir.FullName);
            var stdout = demo.StandardOutput.ReadToEndAsync();
            var stderr = demo.StandardError.ReadToEndAsync();

            await WaitForSwapFileDataAsync(demo, swapDir.FullName, stderr);
            Assert.Equal(0, Syscall.kill(demo.Id, Signum.SIGTERM));
            using (var deadline = new CancellationTokenSource(Deadline))
            {
                await demo.WaitForExitAsync(deadline.Token);
            }

            var output = await stdout;
            Assert.True(demo.ExitCode == Program.ExitOk, $"exit {demo.ExitCode}; stdout: {output}; stderr: {await stderr}");
            var report = JsonNode.Parse(output)!;
            Assert.Equal("SIGTERM", report["interrupted_by"]!.GetValue<string>());

            // Pages were written to the swap file: swap-out was running or done, so the guest was
            // interrupted there or in its idle run; disable and verify still ran.
            var interrupted = report["interrupted"]!.GetValue<string>();
            Assert.Contains(interrupted, (string[])["swap-out", "guest-idle"]);
            string[] before = ["fill", "enable", "guest-run", "trim", "swap-out", "guest-idle"];
            Assert.Equal(before.TakeWhile(p => p != interrupted).Append(interrupted).Append("disable").Append("verify"), PhaseNames(report));
            var disable = report["phases"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "disable")!;
            Assert.Equal("Ready", disable["status"]!["state"]!.GetValue<string>());
            Assert.True(disable["pages"]!.GetValue<long>() > 0);
            Assert.True(report["integrity"]!["ok"]!.GetValue<bool>());
            Assert.Equal(Program.ExitOk, report["exit_code"]!.GetValue<int>());
        }
        finally
        {
            swapDir.Delete(recursive: true);
        }
    }

    // The built command next to this test (the project reference copies it here), run by the same
    // dotnet host that runs the tests.
    private static Process StartVmmSwap(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    // The demo prints nothing before its report with --json; its swap file (an O_TMPFILE in
    // swapDir, open in the process) taking up more blocks than the start's probe file of the swap
    // directory (two pages, see SwapDirectoryProbe) ever does is the sign that swap-out has written
    // pages.
    private static async Task WaitForSwapFileDataAsync(Process demo, string swapDir, Task<string> stderr)
    {
        var clock = Stopwatch.StartNew();
        while (!SwapFileHasData(demo.Id, swapDir))
        {
            if (demo.HasExited)
            {
                Assert.Fail($"the demo exited ({demo.ExitCode}) before writing to its swap file: {await stderr}");
            }

            Assert.True(clock.Elapsed < Deadline, $"no data in a swap file in {swapDir} within {Deadline.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    private static bool SwapFileHasData(int pid, string swapDir)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                if (BlocksOf(fd, swapDir) * 512 > ProbeFileBytes)
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or IOException)
        {
            // The process or one of its descriptors went away while being listed.
        }

        return false;
    }

    // The blocks of the file behind the demo's descriptor if it lies in swapDir, else 0. Opened
    // first and both checks made on the test's own descriptor: the demo may close that number and
    // reuse it between a readlink and a stat of its /proc link (the probe file's number, reused
    // for a guest memfd full of data during "fill", passed for a swap file that had data).
    private static long BlocksOf(string demoFd, string swapDir)
    {
        var own = Syscall.open(demoFd, OpenFlags.O_RDONLY);
        if (own < 0)
        {
            return 0;
        }

        try
        {
            return new FileInfo($"/proc/self/fd/{own}").LinkTarget is { } target
                && target.StartsWith(swapDir + "/", StringComparison.Ordinal)
                && Syscall.fstat(own, out var stat) == 0 ? stat.st_blocks : 0;
        }
        finally
        {
            Syscall.close(own);
        }
    }

    private static string[] PhaseNames(JsonNode report) =>
        [.. report["phases"]!.AsArray().Select(p => p!["name"]!.GetValue<string>())];
}
