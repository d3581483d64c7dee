using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Work;

/// <summary>
/// How much a swap-in copies into the guest per step on the fault thread. A fault that arrives
/// meanwhile waits for the step in progress before the thread reads it (a 256 KiB UFFDIO_COPY
/// takes 160-300 us on a nested host), so steps shrink while the guest is faulting.
/// </summary>
public static class SwapInSteps
{
    /// <summary>
    /// A fault this recent says the guest is running and will likely fault again soon. In the
    /// bench's faults during swap-in at 1 GiB (seven runs each way), small steps after one took
    /// the median of the runs' median fault from 385 us to 136 us; the swap-in under that guest's
    /// constant faulting took 1.92 s instead of 1.64 s. Fault p99 there is the disk's, and did not move.
    /// </summary>
    public static readonly TimeSpan RecentFault = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The next step: <paramref name="stepBytes"/>; an eighth of it (a page at least) while
    /// <paramref name="faultWaiting"/> on a read (its answer waits for the step) or when the last
    /// fault came less than <see cref="RecentFault"/> ago.
    /// </summary>
    public static ulong Bytes(ulong stepBytes, bool faultWaiting, TimeSpan sinceLastFault) =>
        faultWaiting || sinceLastFault < RecentFault
            ? PageSize.PagesToBytes(Math.Max(1, PageSize.BytesToPages(stepBytes) / 8))
            : stepBytes;
}
