namespace VmmSwap.Cli.Soak;

/// <summary>What missed its deadline.</summary>
public enum HangKind
{
    /// <summary>A command got no reply.</summary>
    Command,

    /// <summary>A guest thread's read, write or remove did not return.</summary>
    GuestAccess,

    /// <summary>A guest thread did not pause for Enable (it was stuck in an access).</summary>
    GuestPause,

    /// <summary>The runtime did not reach the state it was driven to.</summary>
    StateWait,

    /// <summary>The check of every page at the end of a cycle did not finish.</summary>
    CycleCheck,

    /// <summary>The second process stopped making progress, or did not exit when told to.</summary>
    SecondProcess,
}

/// <summary>A deadline missed: a hang, and a failure of the soak.</summary>
/// <param name="Kind">What hung.</param>
/// <param name="What">Which command, page or process, and how.</param>
/// <param name="Cycle">The cycle it happened in.</param>
/// <param name="Seconds">The deadline it missed.</param>
public sealed record SoakHang(HangKind Kind, string What, int Cycle, double Seconds);
