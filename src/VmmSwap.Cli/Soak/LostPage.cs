namespace VmmSwap.Cli.Soak;

/// <summary>Who read a page and found it wrong.</summary>
public enum CheckedBy
{
    /// <summary>The guest thread that owns the page, on one of its reads.</summary>
    GuestRead,

    /// <summary>The check of every page once a cycle is back in Ready.</summary>
    CycleCheck,

    /// <summary>The second process, reading the pages no guest thread writes through its own mapping.</summary>
    SecondProcess,
}

/// <summary>What a lost page read as instead of what it must hold.</summary>
public enum ObservedContent
{
    /// <summary>All zeros, where data was expected.</summary>
    Zeros,

    /// <summary>An older version of the page: a stale copy came back.</summary>
    OlderVersion,

    /// <summary>Neither zeros nor one of the page's recent versions.</summary>
    Unrecognised,
}

/// <summary>A page that did not read back what was last written to it (or zeros after a remove): a loss.</summary>
/// <param name="Page">The guest page number.</param>
/// <param name="FoundBy">Who found it.</param>
/// <param name="Cycle">The cycle it was found in.</param>
/// <param name="ExpectedVersion">The version last written to it.</param>
/// <param name="ExpectedZeros">True when it was removed after that write, so zeros were expected.</param>
/// <param name="Observed">What it read as.</param>
/// <param name="ObservedVersion">The older version it read as, when <paramref name="Observed"/> is <see cref="ObservedContent.OlderVersion"/>.</param>
public sealed record LostPage(long Page, CheckedBy FoundBy, int Cycle, int ExpectedVersion, bool ExpectedZeros, ObservedContent Observed, int? ObservedVersion);
