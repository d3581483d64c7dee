namespace VmmSwap.Core;

/// <summary>The overlap check shared by every owner of a set of guest regions.</summary>
internal static class GuestRegionOverlap
{
    internal static void ThrowIfAny(IEnumerable<GuestRegion> regions)
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
}
