using System.Diagnostics;
using VmmSwap.Native.Processes;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Processes;

/// <summary>The cgroup v2 freezer against the real kernel, in a cgroup of its own made for each test.</summary>
public sealed class CgroupFreezerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public void Freezing_stops_the_cgroups_process_and_thawing_resumes_it()
    {
        using var cgroup = TestCgroup.Create();
        using var inside = Sleeper();
        using var outside = Sleeper();
        cgroup.Add(inside.Id);
        var freezer = CgroupFreezer.Open(cgroup.Directory);
        Assert.True(freezer.Contains(inside.Id));
        Assert.False(freezer.Contains(outside.Id));
        Assert.False(freezer.IsFrozen);

        freezer.Freeze();
        Assert.True(WaitFor(() => freezer.IsFrozen), "cgroup.events never said frozen 1");
        Assert.True(cgroup.IsFrozen);
        Assert.Equal(ProcessRunState.Running, ProcessStates.Of(outside.Id));

        freezer.Thaw();
        Assert.True(WaitFor(() => !freezer.IsFrozen), "cgroup.events never said frozen 0");
    }

    [Fact]
    public void A_process_that_dies_while_frozen_just_leaves_the_cgroup()
    {
        using var cgroup = TestCgroup.Create();
        using var inside = Sleeper();
        cgroup.Add(inside.Id);
        var freezer = CgroupFreezer.Open(cgroup.Directory);
        freezer.Freeze();
        Assert.True(WaitFor(() => freezer.IsFrozen), "cgroup.events never said frozen 1");

        inside.Kill();
        Assert.False(freezer.Contains(inside.Id));
        freezer.Thaw();
        Assert.True(WaitFor(() => !freezer.IsFrozen), "cgroup.events never said frozen 0");
    }

    [Fact]
    public void The_root_cgroup_and_a_directory_that_is_no_cgroup_are_refused_naming_the_path()
    {
        var mount = Cgroup2Hierarchy.Find() ?? throw new InvalidOperationException("cgroup2 is not mounted: mount it, e.g. 'mount -t cgroup2 none /sys/fs/cgroup/unified'");

        var root = Assert.Throws<CgroupException>(() => CgroupFreezer.Open(mount.MountPoint));
        Assert.Contains(mount.MountPoint, root.Message, StringComparison.Ordinal);
        Assert.Contains("root cgroup cannot be frozen", root.Message, StringComparison.Ordinal);

        var temp = Directory.CreateTempSubdirectory("vmmswap-not-a-cgroup-").FullName;
        try
        {
            var notCgroup = Assert.Throws<CgroupException>(() => CgroupFreezer.Open(temp));
            Assert.Contains(temp, notCgroup.Message, StringComparison.Ordinal);
            Assert.Contains("is not a cgroup v2 directory", notCgroup.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(temp);
        }

        var missing = Path.Combine(mount.MountPoint, "vmmswap-no-such-cgroup");
        var absent = Assert.Throws<CgroupException>(() => CgroupFreezer.Open(missing));
        Assert.Contains(missing, absent.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", absent.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cgroup_of_this_process_is_found_under_the_cgroup2_mount()
    {
        var mount = Cgroup2Hierarchy.Find() ?? throw new InvalidOperationException("cgroup2 is not mounted: mount it, e.g. 'mount -t cgroup2 none /sys/fs/cgroup/unified'");

        var own = Cgroup2Hierarchy.DirectoryOf(Environment.ProcessId);
        Assert.NotNull(own);
        Assert.StartsWith(mount.MountPoint, own, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(own, "cgroup.procs")));
        Assert.Null(Cgroup2Hierarchy.DirectoryOf(int.MaxValue));
    }

    private static Sleeping Sleeper() =>
        new(Process.Start(new ProcessStartInfo("sleep", "600")) ?? throw new InvalidOperationException("sleep did not start"));

    private static bool WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Deadline)
            {
                return false;
            }

            Thread.Sleep(1);
        }

        return true;
    }

    // A sleep child, killed and reaped on dispose (before its cgroup is removed).
    private sealed class Sleeping(Process process) : IDisposable
    {
        public int Id => process.Id;

        public void Kill()
        {
            process.Kill();
            process.WaitForExit();
        }

        public void Dispose()
        {
            if (!process.HasExited)
            {
                Kill();
            }

            process.Dispose();
        }
    }
}
