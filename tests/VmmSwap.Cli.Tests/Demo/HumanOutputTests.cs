namespace VmmSwap.Cli.Tests.Demo;

/// <summary>The default (human) output when stdout is not a terminal: plain text, tables and the verdict.</summary>
public sealed class HumanOutputTests
{
    [Fact]
    public async Task Prints_the_tables_and_the_verdict_without_terminal_control_sequences()
    {
        var run = await CliRun.StartAsync("demo --guest-mib 8 --regions 3 --vcpus 3 --idle-seconds 0.5 --seed 7");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(string.Empty, run.Stderr);
        Assert.DoesNotContain("\u001b[", run.Stdout, StringComparison.Ordinal);
        foreach (var expected in new[] { "phases", "runtime metrics after each phase", "fault latency", "host memory held for the guest", "swap-out", "copied_from_file_pages", "p99 us" })
        {
            Assert.Contains(expected, run.Stdout, StringComparison.Ordinal);
        }

        Assert.EndsWith("integrity: ok", run.Stdout.TrimEnd(), StringComparison.Ordinal);
    }
}
