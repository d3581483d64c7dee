namespace VmmSwap.Native.Processes;

/// <summary>
/// The cgroup v2 freezer of one cgroup directory: writing "1" to its cgroup.freeze stops every
/// process in it and its descendants (without the signals SIGSTOP would show a parent or a
/// tracer), and cgroup.events says "frozen 1" once all have stopped. A process that exits while
/// frozen just leaves the cgroup.
/// </summary>
public sealed class CgroupFreezer
{
    private CgroupFreezer(string directory)
    {
        Directory = directory;
    }

    /// <summary>The cgroup's directory under the cgroup2 mount.</summary>
    public string Directory { get; }

    /// <summary>Whether the kernel reports every process of the cgroup stopped (cgroup.events "frozen 1").</summary>
    public bool IsFrozen
    {
        get
        {
            var events = Read("cgroup.events");
            return events.Split('\n').Any(l => l.Trim() == "frozen 1");
        }
    }

    /// <summary>
    /// Opens the cgroup at <paramref name="directory"/>: it must be a directory under the cgroup2
    /// mount with a cgroup.freeze file (the root cgroup has none and cannot be frozen).
    /// </summary>
    public static CgroupFreezer Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var (mountPoint, _) = Cgroup2Hierarchy.Require();
        if (full != mountPoint && !full.StartsWith(mountPoint + "/", StringComparison.Ordinal))
        {
            throw new CgroupException(directory, $"is not a cgroup v2 directory: name a cgroup under the cgroup2 mount {mountPoint} (create one with mkdir there)");
        }

        if (!System.IO.Directory.Exists(full))
        {
            throw new CgroupException(directory, $"does not exist: create the cgroup with mkdir under {mountPoint}");
        }

        if (!File.Exists(Path.Combine(full, "cgroup.freeze")))
        {
            throw new CgroupException(directory, "has no cgroup.freeze: the root cgroup cannot be frozen; name a child cgroup (mkdir one under it and move the processes there)");
        }

        return new CgroupFreezer(full);
    }

    /// <summary>Stops every process in the cgroup (cgroup.freeze = 1); <see cref="IsFrozen"/> says when they all have.</summary>
    public void Freeze() => Write("cgroup.freeze", "1");

    /// <summary>Resumes the cgroup's processes (cgroup.freeze = 0).</summary>
    public void Thaw() => Write("cgroup.freeze", "0");

    /// <summary>Whether process <paramref name="pid"/> is in this cgroup or one below it (which freezing it stops too).</summary>
    public bool Contains(int pid) =>
        Cgroup2Hierarchy.DirectoryOf(pid) is { } group
        && (group == Directory || group.StartsWith(Directory + "/", StringComparison.Ordinal));

    private string Read(string file)
    {
        var path = Path.Combine(Directory, file);
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException(path, $"cannot be read ({e.GetType().Name}, errno {e.HResult}: {e.Message})", e);
        }
    }

    private void Write(string file, string value)
    {
        var path = Path.Combine(Directory, file);
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException(path, $"cannot be written '{value}' ({e.GetType().Name}, errno {e.HResult}: {e.Message})", e);
        }
    }
}
