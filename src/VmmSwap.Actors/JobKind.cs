namespace VmmSwap.Actors;

/// <summary>The background jobs that work chunk by chunk through the PageHandler.</summary>
public enum JobKind
{
    /// <summary>Drops zero and clean pages from staging.</summary>
    Trim,

    /// <summary>Writes staging to the swap file.</summary>
    SwapOut,

    /// <summary>Brings every page back into the guest.</summary>
    SwapIn,

    /// <summary>Brings the working set back into the guest; swap stays enabled for the rest.</summary>
    Prefetch,
}
