using System.Diagnostics;
using System.Globalization;
using VmmSwap.Native.Processes;

namespace VmmSwap.Testing;

/// <summary>
/// A child cgroup of the cgroup2 mount with a unique name, for tests that freeze processes: its
/// processes are moved back out and it is removed on dispose, even after a failed test.
/// </summary>
public sealed class TestCgroup : IDisposable
{
    private TestCgroup(string directory, string home)
    {
        Directory = directory;
        _home = home;
    }

    // Where this test process's own cgroup is: processes go back there.
    private readonly string _home;

    /// <summary>The cgroup's directory.</summary>
    public string Directory { get; }

    /// <summary>Whether cgroup.events says "frozen 1" now.</summary>
    public bool IsFrozen => File.ReadAllLines(Path.Combine(Directory, "cgroup.events")).Contains("frozen 1");

    /// <summary>Creates the cgroup; fails saying how to mount cgroup2 where it is not mounted.</summary>
    public static TestCgroup Create()
    {
        var mount = Cgroup2Hierarchy.Find()
            ?? throw new InvalidOperationException("cgroup2 is not mounted, and freezing tests need the cgroup v2 freezer: mount it, e.g. 'mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified'");
        var home = Cgroup2Hierarchy.DirectoryOf(Environment.ProcessId) ?? mount.MountPoint;
        var directory = Path.Combine(mount.MountPoint, $"vmmswap-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        return new TestCgroup(directory, home);
    }

    /// <summary>Moves process <paramref name="pid"/> into the cgroup.</summary>
    public void Add(int pid) => File.WriteAllText(Path.Combine(Directory, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    /// <inheritdoc />
    public void Dispose()
    {
        File.WriteAllText(Path.Combine(Directory, "cgroup.freeze"), "0");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            foreach (var pid in File.ReadAllLines(Path.Combine(Directory, "cgroup.procs")).Where(l => l.Length > 0))
            {
                try
                {
                    File.WriteAllText(Path.Combine(_home, "cgroup.procs"), pid);
                }
                catch (IOException)
                {
                    // ESRCH: it exited meanwhile.
                }
            }

            try
            {
                System.IO.Directory.Delete(Directory);
                return;
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                // EBUSY: a process that exited is not reaped yet, or one moved in meanwhile.
                Thread.Sleep(10);
            }
        }
    }
}
