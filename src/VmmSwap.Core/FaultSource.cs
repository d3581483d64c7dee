namespace VmmSwap.Core;

/// <summary>Where a page fault's page came from, as the metrics count it.</summary>
public enum FaultSource
{
    /// <summary>Copied from staging memory.</summary>
    Staging,

    /// <summary>Copied from the swap file (its page cache, a swap-in's window or a fault read's buffer).</summary>
    File,

    /// <summary>Served as a zero page: the page is in neither staging nor the file.</summary>
    Zero,

    /// <summary>The page was already there (another process's fault won, or it wrote it): only woken.</summary>
    AlreadyIn,

    /// <summary>Not served yet: the fault waits for a read of the swap file off the fault thread.</summary>
    Parked,
}
