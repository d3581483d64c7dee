using VmmSwap.Testing;

namespace VmmSwap.Cli.Tests.Commands;

/// <summary>Input the demo cannot run with is refused with exit code 2 and one line naming the problem and the fix.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData("--guest-mib 0", "--guest-mib must be a positive number of MiB, got 0")]
    [InlineData("--guest-mib -5", "--guest-mib must be a positive number of MiB, got -5")]
    [InlineData("--regions -1", "--regions must be a positive count, got -1")]
    [InlineData("--regions 0", "--regions must be a positive count, got 0")]
    [InlineData("--vcpus 0", "--vcpus must be a positive count, got 0")]
    [InlineData("--idle-seconds 0", "--idle-seconds must be a positive number of seconds")]
    [InlineData("--zero-percent 150", "--zero-percent must be between 0 and 100, got 150")]
    [InlineData("--text-percent -1", "--text-percent must be between 0 and 100, got -1")]
    [InlineData("--zero-percent 50 --repeated-percent 40 --text-percent 30", "= 120, over 100")]
    [InlineData("--guest-mib 100000000", "--guest-mib 100000000 needs about 200000000 MiB of RAM")]
    [InlineData("--guest-mib 1 --regions 300", "--regions 300 is more than the 256 pages")]
    [InlineData("--guest-mib 1 --vcpus 100", "--vcpus 100 is more than the 25 pages of the hot working set")]
    [InlineData("--swap-dir /nonexistent/dir", "--swap-dir '/nonexistent/dir' cannot hold the swap file: creating an O_TMPFILE file in it, open(O_TMPFILE) failed with ENOENT")]
    [InlineData("--vcpu-kind qemu", "--vcpu-kind must be 'kvm' or 'thread', got 'qemu'; pass --vcpu-kind kvm or --vcpu-kind thread")]
    [InlineData("--vcpu-kind KVM", "--vcpu-kind must be 'kvm' or 'thread', got 'KVM'")]
    [InlineData("--metrics prometheus", "--metrics must be 'console' (OpenTelemetry's console exporter), got 'prometheus'")]
    [InlineData("--metrics console --json", "--metrics console writes to stdout, which --json's report owns")]
    [InlineData("--guest-mib lots", "Cannot parse argument 'lots' for option '--guest-mib'")]
    [InlineData("--no-such-option", "Unrecognized command or argument '--no-such-option'")]
    public async Task Is_refused_with_exit_code_2_and_one_line_naming_the_problem(string args, string problem)
    {
        var run = await CliRun.StartAsync($"demo {args}");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(problem, line, StringComparison.Ordinal);
        Assert.StartsWith("vmm-swap demo: ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--guest-mib 0", "pass e.g. --guest-mib 512")]
    [InlineData("--zero-percent 150", "pass e.g. --zero-percent 20")]
    [InlineData("--zero-percent 50 --repeated-percent 40 --text-percent 30", "lower them so they sum to 100 or less")]
    [InlineData("--guest-mib 100000000", "pass a smaller --guest-mib")]
    [InlineData("--swap-dir /nonexistent/dir", "create the directory or choose an existing one")]
    public async Task The_refusal_says_what_to_pass_instead(string args, string fix)
    {
        var run = await CliRun.StartAsync($"demo {args}");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(fix, run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_swap_dir_whose_file_system_has_no_O_TMPFILE_is_refused()
    {
        // procfs is on every Linux host and refuses O_TMPFILE with EOPNOTSUPP: the real failure,
        // from the same open(2) the runtime uses for its swap file.
        var run = await CliRun.StartAsync("demo --swap-dir /proc --json");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--swap-dir '/proc' cannot hold the swap file", line, StringComparison.Ordinal);
        Assert.Contains("open(O_TMPFILE) failed with EOPNOTSUPP", line, StringComparison.Ordinal);
        Assert.EndsWith("use a directory on ext4, xfs, btrfs or tmpfs", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ramfs", "punching a hole in the file, fallocate(PUNCH_HOLE) failed with EOPNOTSUPP")]
    [InlineData("hugetlbfs", "writing to that file, pwrite failed with EINVAL")]
    public async Task A_swap_dir_that_takes_O_TMPFILE_but_not_the_rest_of_the_swap_file_is_refused(string type, string cause)
    {
        // Both accept O_TMPFILE: the demo's old check passed them, and the run failed at Enable or Trim.
        using var mount = TestMount.Create(type);

        var run = await CliRun.StartAsync($"demo --swap-dir {mount.Directory} --guest-mib 16");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"vmm-swap demo: --swap-dir '{mount.Directory}' cannot hold the swap file: {cause} (", line, StringComparison.Ordinal);
        Assert.EndsWith("use a directory on ext4, xfs, btrfs or tmpfs", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_command_is_refused_with_exit_code_2()
    {
        var run = await CliRun.StartAsync(string.Empty);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("Required command was not provided", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_every_option_and_exits_zero()
    {
        var run = await CliRun.StartAsync("demo --help");

        Assert.Equal(0, run.ExitCode);
        foreach (var option in new[] { "--guest-mib", "--regions", "--vcpus", "--idle-seconds", "--zero-percent", "--repeated-percent", "--text-percent", "--swap-dir", "--seed", "--json" })
        {
            Assert.Contains(option, run.Stdout, StringComparison.Ordinal);
        }
    }
}
