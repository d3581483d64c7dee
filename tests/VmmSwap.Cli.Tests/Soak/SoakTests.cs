using System.Text.Json;
using System.Text.RegularExpressions;

namespace VmmSwap.Cli.Tests.Soak;

/// <summary>A short soak in-process, with a second process and one of each fault this machine can inject.</summary>
public sealed class SoakTests
{
    [Fact]
    public async Task A_short_soak_with_a_second_process_and_every_fault_loses_nothing()
    {
        // Three cycles: the second fills the swap dir mid swap-out, the third kills the second
        // process while it waits in a fault; second processes attach in between.
        var run = await CliRun.StartAsync("soak --guest-mib 16 --cycles 3 --seed 7 --json");

        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stdout}\n{run.Stderr}");
        Assert.Equal(3, root.GetProperty("cycles").GetInt32());
        Assert.True(root.GetProperty("pages_checked").GetProperty("total").GetInt64() > 0);
        Assert.True(root.GetProperty("pages_checked").GetProperty("cycle_check").GetInt64() >= 3 * 4096);
        Assert.True(root.GetProperty("pages_checked").GetProperty("second_process").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("pages_lost").GetInt64());
        Assert.Empty(root.GetProperty("hangs").EnumerateArray());
        Assert.Empty(root.GetProperty("leaks").GetProperty("leaked").EnumerateArray());
        Assert.True(root.GetProperty("second_process").GetProperty("attached").GetInt64() > 0);
        Assert.True(root.GetProperty("guest").GetProperty("removes").GetInt64() > 0);

        var faults = root.GetProperty("faults").EnumerateArray().ToDictionary(f => f.GetProperty("kind").GetString()!);
        foreach (var kind in new[] { "swap_dir_full", "child_killed_while_faulting" })
        {
            var fault = faults[kind];
            Assert.True(fault.GetProperty("available").GetBoolean(), $"{kind}: {fault}");
            Assert.Equal(1, fault.GetProperty("injected").GetInt32());
            Assert.Equal(fault.GetProperty("injected").GetInt32(), fault.GetProperty("survived").GetInt32());
        }

        // Swap-out into the filled swap dir fails with ENOSPC every time: the fault bit.
        Assert.Equal(1, faults["swap_dir_full"].GetProperty("took_effect").GetInt32());
        Assert.StartsWith("not available (", faults["throttled_disk"].GetProperty("method").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--guest-mib 0", "--guest-mib must be at least 4, got 0")]
    [InlineData("--cycles 0", "--cycles must be at least 1, got 0")]
    [InlineData("--cycles 3 --minutes 1", "pass either --cycles or --minutes, not both")]
    [InlineData("--minutes -1", "--minutes must be a positive number of minutes")]
    [InlineData("--guest-threads 0", "--guest-threads must be 1-64, got 0")]
    [InlineData("--command-threads 100", "--command-threads must be 1-32, got 100")]
    [InlineData("--swap-dir /nonexistent/dir", "--swap-dir '/nonexistent/dir' does not exist")]
    [InlineData("--guest-mib 100000000", "--guest-mib 100000000 needs about 300000000 MiB of RAM")]
    [InlineData("--cycles many", "Cannot parse argument 'many' for option '--cycles'")]
    public async Task Bad_input_is_refused_with_exit_code_2_and_one_line_naming_the_problem(string args, string problem)
    {
        var run = await CliRun.StartAsync($"soak {args}");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vmm-swap soak: ", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_the_options_and_exit_codes_and_hides_the_second_process_verb()
    {
        var soak = await CliRun.StartAsync("soak --help");
        var root = await CliRun.StartAsync("--help");

        Assert.Equal(0, soak.ExitCode);
        foreach (var option in new[] { "--guest-mib", "--cycles", "--minutes", "--seed", "--guest-threads", "--command-threads", "--swap-dir", "--json" })
        {
            Assert.Contains(option, soak.Stdout, StringComparison.Ordinal);
        }

        Assert.Contains("1 pages lost; 3 a hang; 4 a leak; 5 incomplete", Regex.Replace(soak.Stdout, @"\s+", " "), StringComparison.Ordinal);
        Assert.Contains("soak", root.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("soak-child", root.Stdout, StringComparison.Ordinal);
    }
}
