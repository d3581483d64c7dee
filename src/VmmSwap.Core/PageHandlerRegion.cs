using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Core;

/// <summary>A guest region as the page handler sees it: where it lies in host pages and in the swap file, and its fault counters.</summary>
internal sealed class PageHandlerRegion(GuestRegion guest, long filePageOffset)
{
    internal GuestRegion Guest { get; } = guest;

    /// <summary>Host page indices of the region.</summary>
    internal PageRange GuestPages { get; } = new(
        PageSize.AddressToPageIndex((ulong)guest.HostAddress),
        PageSize.AddressToPageIndex((ulong)guest.HostAddress) + guest.PageCount);

    /// <summary>Swap-file (and staging) index of the region's first page.</summary>
    internal long FilePageOffset { get; } = filePageOffset;

    internal long PageCount => Guest.PageCount;

    internal PageRange FilePages => new(FilePageOffset, FilePageOffset + PageCount);

    internal long CopiedFromFilePages { get; set; }

    internal long CopiedFromStagingPages { get; set; }

    internal long ZeroedPages { get; set; }

    internal long RedundantPages { get; set; }

    internal long SwapInPages { get; set; }

    internal long FileIndexOf(long guestPage) => guestPage - GuestPages.Start + FilePageOffset;

    internal nint AddressOfFilePage(long fileIndex) => Guest.HostAddress + (nint)PageSize.PagesToBytes(fileIndex - FilePageOffset);

    internal void ResetCounters()
    {
        CopiedFromFilePages = 0;
        CopiedFromStagingPages = 0;
        ZeroedPages = 0;
        RedundantPages = 0;
        SwapInPages = 0;
    }
}
