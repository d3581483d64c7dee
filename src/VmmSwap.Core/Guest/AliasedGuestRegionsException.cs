namespace VmmSwap.Core.Guest;

/// <summary>
/// Two guest regions map the same bytes of one memfd (the same st_dev / st_ino, whichever
/// descriptor reaches it) at different host addresses. A page brought back into one would already
/// be present in the other, so swap-in would fail with EEXIST; such regions are refused up front.
/// </summary>
public sealed class AliasedGuestRegionsException : ArgumentException
{
    internal AliasedGuestRegionsException(GuestRegion first, GuestRegion second, string memFd, long sharedStart, long sharedEnd)
        : base(
            $"guest regions {Describe(first, memFd)} and {Describe(second, memFd)} map the same memfd bytes 0x{sharedStart:X}..0x{sharedEnd:X}: "
            + "a page brought back into one would already be present in the other and swap-in would fail (EEXIST); give each region its own range of the memfd",
            "regions")
    {
        First = first;
        Second = second;
    }

    /// <summary>The region at the lower memfd offset.</summary>
    public GuestRegion First { get; }

    /// <summary>The region whose memfd bytes start inside <see cref="First"/>'s.</summary>
    public GuestRegion Second { get; }

    private static string Describe(GuestRegion region, string memFd) =>
        $"0x{region.HostAddress:X}..0x{region.EndAddress:X} ({memFd}, bytes 0x{region.MemFdOffset:X}..0x{region.MemFdOffset + (long)region.Size:X})";
}
