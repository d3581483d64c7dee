namespace VmmSwap.Cli.Demo;

/// <summary>The demo's phases, in the order they run.</summary>
public static class PhaseNames
{
    /// <summary>The guest's memory is written with the page mix.</summary>
    public const string Fill = "fill";

    /// <summary>Every resident page moves to staging (the guest is paused).</summary>
    public const string Enable = "enable";

    /// <summary>The guest runs briefly: its first touches are faults served from staging.</summary>
    public const string GuestRun = "guest-run";

    /// <summary>Zero pages (and pages unchanged on disk) are dropped from staging.</summary>
    public const string Trim = "trim";

    /// <summary>Staging is written to the swap file.</summary>
    public const string SwapOut = "swap-out";

    /// <summary>The guest runs idle: its first touches are faults served from the file or with zero pages.</summary>
    public const string GuestIdle = "guest-idle";

    /// <summary>Every page comes back into the guest.</summary>
    public const string Disable = "disable";

    /// <summary>Every page is compared with what was last written to it.</summary>
    public const string Verify = "verify";

    /// <summary>All phases in order.</summary>
    public static IReadOnlyList<string> All { get; } = [Fill, Enable, GuestRun, Trim, SwapOut, GuestIdle, Disable, Verify];
}
