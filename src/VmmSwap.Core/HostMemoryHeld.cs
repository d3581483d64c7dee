namespace VmmSwap.Core;

/// <summary>Host memory and disk one page state holds beyond the guest's own pages.</summary>
/// <param name="StagingBytes">RAM of the staging memfd (its allocated blocks).</param>
/// <param name="SwapFileBytes">Disk blocks the swap file takes.</param>
/// <param name="SwapFileCachedBytes">The swap file's pages in the page cache (RAM the kernel may reclaim).</param>
public readonly record struct HostMemoryHeld(long StagingBytes, long SwapFileBytes, long SwapFileCachedBytes);
