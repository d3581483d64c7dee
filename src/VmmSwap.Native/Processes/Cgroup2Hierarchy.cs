using System.Globalization;
using System.Text;

namespace VmmSwap.Native.Processes;

/// <summary>
/// Where the cgroup v2 hierarchy is mounted (from /proc/self/mountinfo; on a hybrid host it is
/// not /sys/fs/cgroup) and which cgroup directory a process is in (its /proc/PID/cgroup "0::" line).
/// </summary>
public static class Cgroup2Hierarchy
{
    private const string MountInfo = "/proc/self/mountinfo";

    /// <summary>
    /// The cgroup2 mount: its mount point and the cgroup path at its root ("/" unless this process
    /// sees a bind mount of a sub-tree); null when no cgroup2 file system is mounted.
    /// </summary>
    public static (string MountPoint, string Root)? Find()
    {
        foreach (var line in File.ReadLines(MountInfo))
        {
            // "id parent major:minor root mount-point options [optional...] - fstype source super-options"
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (dash >= 5 && dash + 1 < fields.Length && fields[dash + 1] == "cgroup2")
            {
                return (Unescape(fields[4]), Unescape(fields[3]));
            }
        }

        return null;
    }

    /// <summary>The cgroup2 mount point, or a <see cref="CgroupException"/> that says how to mount one.</summary>
    public static (string MountPoint, string Root) Require() => Find()
        ?? throw new CgroupException(MountInfo, "no cgroup2 file system is mounted; mount one, e.g. 'mount -t cgroup2 none /sys/fs/cgroup/unified'");

    /// <summary>
    /// The directory of the cgroup v2 group process <paramref name="pid"/> is in, under the
    /// cgroup2 mount; null when the process is gone or its group is outside what this mount shows.
    /// </summary>
    public static string? DirectoryOf(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        var (mountPoint, root) = Require();
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/cgroup");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (IOException)
        {
            // ESRCH: the process went while its file was read.
            return null;
        }

        var group = lines.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        if (group is null)
        {
            return null;
        }

        if (root != "/")
        {
            if (group != root && !group.StartsWith(root + "/", StringComparison.Ordinal))
            {
                return null;
            }

            group = group[root.Length..];
        }

        return Path.TrimEndingDirectorySeparator(mountPoint + "/" + group.TrimStart('/'));
    }

    // mountinfo writes space, tab, newline and backslash as \ooo.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }
}
