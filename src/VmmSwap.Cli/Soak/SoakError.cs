namespace VmmSwap.Cli.Soak;

/// <summary>What kept the soak from doing part of what it was asked.</summary>
public enum SoakErrorKind
{
    /// <summary>The runtime did not come back to Ready at the end of a cycle (it failed, not hung).</summary>
    NotReady,

    /// <summary>The second process could not be started or handed over.</summary>
    SecondProcess,

    /// <summary>A guest thread's access failed with an error (not a wrong page: a call that failed).</summary>
    GuestAccess,
}

/// <summary>Part of the soak could not run as asked: reported, and the run counts as incomplete.</summary>
/// <param name="Kind">What failed.</param>
/// <param name="Message">Why.</param>
/// <param name="Cycle">The cycle it happened in.</param>
public sealed record SoakError(SoakErrorKind Kind, string Message, int Cycle);
