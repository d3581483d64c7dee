using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Guest;

/// <summary>
/// Where each guest region is mapped in one address space: the host's own, or a device process's
/// that maps the same memfds elsewhere. A userfaultfd reports addresses of its own process, so
/// every userfaultfd has a layout, and a fault or remove is translated through it to the host's
/// address (which names the page in the page state) and back to the process's (where the page
/// is copied in).
/// </summary>
public sealed class GuestLayout
{
    private readonly IReadOnlyList<GuestRegion> _regions;
    private readonly nint[] _bases;

    private GuestLayout(IReadOnlyList<GuestRegion> regions, nint[] bases)
    {
        _regions = regions;
        _bases = bases;
    }

    /// <summary>The address of each region's first byte in this address space, in the regions' order.</summary>
    public IReadOnlyList<nint> Bases => _bases;

    /// <summary>True when every region is where the host maps it.</summary>
    public bool IsHost => _bases.Select((b, i) => b == _regions[i].HostAddress).All(same => same);

    /// <summary>The host's own layout of <paramref name="regions"/>.</summary>
    public static GuestLayout Host(IReadOnlyList<GuestRegion> regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        return new GuestLayout(regions, [.. regions.Select(r => r.HostAddress)]);
    }

    /// <summary>
    /// The layout of a process that maps region <c>i</c> of <paramref name="regions"/> at
    /// <paramref name="bases"/>[i]. One base per region, each page-aligned, none overlapping another
    /// region's range in that process; anything else is refused naming the region.
    /// </summary>
    public static GuestLayout Of(IReadOnlyList<GuestRegion> regions, IReadOnlyList<nint> bases)
    {
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(bases);
        if (bases.Count != regions.Count)
        {
            throw new ArgumentException($"the guest has {regions.Count} regions but {bases.Count} addresses were given", nameof(bases));
        }

        for (var i = 0; i < bases.Count; i++)
        {
            if (bases[i] <= 0 || !PageSize.IsAligned((ulong)bases[i]))
            {
                throw new InvalidGuestAddressException((ulong)bases[i], $"region {i} must be mapped at a page-aligned address above 0");
            }

            if ((ulong)bases[i] + regions[i].Size < (ulong)bases[i])
            {
                throw new InvalidGuestAddressException((ulong)bases[i], $"region {i} would end past the top of the address space");
            }
        }

        var order = Enumerable.Range(0, bases.Count).OrderBy(i => (ulong)bases[i]).ToArray();
        for (var k = 1; k < order.Length; k++)
        {
            var (a, b) = (order[k - 1], order[k]);
            if ((ulong)bases[b] < (ulong)bases[a] + regions[a].Size)
            {
                throw new InvalidGuestAddressException((ulong)bases[b], $"regions {a} and {b} would overlap in that address space");
            }
        }

        return new GuestLayout(regions, [.. bases]);
    }

    /// <summary>The range of region <paramref name="index"/> in this address space.</summary>
    public (nint Address, ulong Size) RangeOf(int index) => (_bases[index], _regions[index].Size);

    /// <summary>
    /// The host address of <paramref name="address"/> of this address space, and the index of its
    /// region; null when no region is mapped there.
    /// </summary>
    public (ulong HostAddress, int Region)? ToHost(ulong address)
    {
        // A plain loop: this runs on every fault of a device process.
        for (var i = 0; i < _bases.Length; i++)
        {
            var start = (ulong)_bases[i];
            if (address >= start && address - start < _regions[i].Size)
            {
                return ((ulong)_regions[i].HostAddress + (address - start), i);
            }
        }

        return null;
    }

    /// <summary>
    /// The host ranges of [<paramref name="start"/>, <paramref name="end"/>) of this address space,
    /// one per region it crosses. Throws <see cref="InvalidGuestAddressException"/> naming the first
    /// address of the span that no region covers.
    /// </summary>
    public IReadOnlyList<(ulong Start, ulong End)> ToHostRanges(ulong start, ulong end)
    {
        var parts = new List<(ulong Local, ulong Start, ulong End)>();
        for (var i = 0; i < _bases.Length; i++)
        {
            var from = Math.Max(start, (ulong)_bases[i]);
            var to = Math.Min(end, (ulong)_bases[i] + _regions[i].Size);
            if (from < to)
            {
                var shift = (ulong)_regions[i].HostAddress - (ulong)_bases[i];
                parts.Add((from, from + shift, to + shift));
            }
        }

        parts.Sort((a, b) => a.Local.CompareTo(b.Local));
        var next = start;
        foreach (var part in parts)
        {
            if (part.Local != next)
            {
                break;
            }

            next += part.End - part.Start;
        }

        return next >= end
            ? [.. parts.Select(p => (p.Start, p.End))]
            : throw new InvalidGuestAddressException(next, $"the range 0x{start:X}..0x{end:X} leaves the guest regions of that address space");
    }
}
