namespace VmmSwap.Cli.Common;

/// <summary>Host memory held on behalf of the guest at one moment.</summary>
/// <param name="GuestBytes">RAM allocated to the guest memfds.</param>
/// <param name="StagingBytes">RAM allocated to the runtime's staging memfd.</param>
/// <param name="SwapPageCacheBytes">Swap file bytes in the page cache (reclaimable, but RAM until reclaimed).</param>
public sealed record HostMemorySnapshot(long GuestBytes, long StagingBytes, long SwapPageCacheBytes)
{
    /// <summary>All of it together.</summary>
    public long TotalBytes => GuestBytes + StagingBytes + SwapPageCacheBytes;
}
