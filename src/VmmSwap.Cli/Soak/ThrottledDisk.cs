namespace VmmSwap.Cli.Soak;

/// <summary>
/// Whether a swap-in from a read-throttled disk (cgroup v2 io.max) can be injected here, and if
/// not, why. It needs a cgroup v2 hierarchy with the io controller and a swap dir on a block
/// device; the soak's swap dir is a tmpfs (for the disk-full fault), which has no device to throttle.
/// </summary>
public static class ThrottledDisk
{
    /// <summary>"not available (why)": the first thing missing on this machine.</summary>
    public static string Availability(SoakSwapDir swapDir)
    {
        ArgumentNullException.ThrowIfNull(swapDir);
        var mount = File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(" - ", 2))
            .Where(p => p.Length == 2 && p[1].StartsWith("cgroup2 ", StringComparison.Ordinal))
            .Select(p => p[0].Split(' ')[4])
            .FirstOrDefault();
        if (mount is null)
        {
            return "not available (no cgroup v2 hierarchy is mounted, so there is no io.max)";
        }

        var controllers = File.ReadAllText(Path.Combine(mount, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!controllers.Contains("io"))
        {
            return $"not available (the cgroup v2 hierarchy at {mount} has no io controller, only: {(controllers.Length == 0 ? "none" : string.Join(", ", controllers))})";
        }

        return swapDir.CanFill
            ? $"not available (the io controller is at {mount}, but the swap dir is a tmpfs, which has no block device to throttle)"
            : $"not available (the io controller is at {mount}, but this soak does not move itself into a throttled cgroup)";
    }
}
