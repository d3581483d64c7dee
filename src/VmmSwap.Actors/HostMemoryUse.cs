using VmmSwap.Core;
using VmmSwap.Core.Pages;

namespace VmmSwap.Actors;

/// <summary>
/// Host memory and disk a guest's swap holds, beside crosvm's page counts in
/// <see cref="SwapStatus"/>: what the host has got back shows in these.
/// </summary>
/// <param name="GuestResidentBytes">The guest's pages in RAM.</param>
/// <param name="StagingBytes">RAM of staging memory.</param>
/// <param name="SwapFileBytes">Disk blocks of the swap file.</param>
/// <param name="SwapFileCachedBytes">The swap file's pages in the page cache (RAM the kernel may take back).</param>
public sealed record HostMemoryUse(long GuestResidentBytes, long StagingBytes, long SwapFileBytes, long SwapFileCachedBytes)
{
    /// <summary>
    /// Measures them now, from any thread, with the guest's resident pages counted by
    /// <paramref name="residentPages"/>; null without page state (<paramref name="probe"/> null:
    /// swap is disabled), when it closed while being measured, or when the kernel refused a look.
    /// </summary>
    internal static HostMemoryUse? Measure(Func<long> residentPages, HostMemoryProbe? probe)
    {
        if (probe is null)
        {
            return null;
        }

        try
        {
            var held = probe.Measure();
            var resident = PageSize.PagesToBytes(residentPages());
            return new HostMemoryUse((long)resident, held.StagingBytes, held.SwapFileBytes, held.SwapFileCachedBytes);
        }
        catch (Exception e) when (e is ObjectDisposedException or Native.Interop.NativeCallException)
        {
            return null;
        }
    }
}
