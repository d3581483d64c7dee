namespace VmmSwap.Cli.Soak;

/// <summary>
/// How long anything may take before it counts as a hang. Generous: on a loaded 2-core machine a
/// command or a fault that normally takes milliseconds can take seconds; one that takes a minute
/// is not slow, it is stuck.
/// </summary>
public static class SoakDeadlines
{
    /// <summary>A command's reply, a guest access, a guest thread parking for Enable, a second process's progress.</summary>
    public static TimeSpan Deadline { get; } = TimeSpan.FromSeconds(60);

    /// <summary>The swap-in after a Disable: a minute, plus a minute per GiB (a slow disk reads tens of MB/s).</summary>
    public static TimeSpan SwapIn(ulong guestBytes) => Deadline + TimeSpan.FromMinutes(guestBytes / (double)(1UL << 30));
}
