using VmmSwap.Native.Files;

namespace VmmSwap.Core.Guest;

/// <summary>The overlap check shared by every owner of a set of guest regions.</summary>
internal static class GuestRegionOverlap
{
    /// <summary>
    /// Refuses regions that overlap in host addresses, or that map overlapping bytes of one memfd
    /// (<see cref="AliasedGuestRegionsException"/>): each guest page must have exactly one host page.
    /// </summary>
    internal static void ThrowIfAny(IEnumerable<GuestRegion> regions)
    {
        var all = regions.ToArray();
        ThrowIfHostRangesOverlap(all);
        ThrowIfMemFdBytesOverlap(all);
    }

    private static void ThrowIfHostRangesOverlap(GuestRegion[] regions)
    {
        var sorted = regions.OrderBy(r => (ulong)r.HostAddress).ToArray();
        for (var i = 1; i < sorted.Length; i++)
        {
            var (a, b) = (sorted[i - 1], sorted[i]);
            if ((ulong)b.HostAddress < a.EndAddress)
            {
                throw new ArgumentException(
                    $"guest regions 0x{a.HostAddress:X}..0x{a.EndAddress:X} and 0x{b.HostAddress:X}..0x{b.EndAddress:X} overlap",
                    nameof(regions));
            }
        }
    }

    private static void ThrowIfMemFdBytesOverlap(GuestRegion[] regions)
    {
        // The memfd's identity, not its descriptor number: a host may reach one memfd through
        // several descriptors (dup, /proc/self/fd), and the bytes are shared all the same.
        var sorted = regions
            .Select(r => (Region: r, File: FileOps.Status(r.MemFd)))
            .OrderBy(p => p.File.Device)
            .ThenBy(p => p.File.Inode)
            .ThenBy(p => p.Region.MemFdOffset)
            .ToArray();
        for (var i = 1; i < sorted.Length; i++)
        {
            var (a, b) = (sorted[i - 1], sorted[i]);
            var aEnd = a.Region.MemFdOffset + (long)a.Region.Size;
            if (a.File.Device == b.File.Device && a.File.Inode == b.File.Inode && b.Region.MemFdOffset < aEnd)
            {
                throw new AliasedGuestRegionsException(
                    a.Region,
                    b.Region,
                    $"memfd st_dev {a.File.DeviceNumber} st_ino {a.File.Inode}",
                    b.Region.MemFdOffset,
                    Math.Min(aEnd, b.Region.MemFdOffset + (long)b.Region.Size));
            }
        }
    }
}
