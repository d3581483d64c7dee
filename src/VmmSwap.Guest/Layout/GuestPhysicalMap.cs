using VmmSwap.Core.Guest;

namespace VmmSwap.Guest.Layout;

/// <summary>
/// The guest-physical address space: the control slot at 0, the 2 MiB MMIO page just below
/// 1 GiB (no slot: every access there exits), then each guest memory region from 1 GiB on, each
/// at a 2 MiB boundary. The guest's page tables identity-map all of it with 2 MiB user pages, so
/// a guest virtual address is its guest-physical address.
/// </summary>
public sealed class GuestPhysicalMap
{
    /// <summary>A 2 MiB page. 1 GiB pages would need CPUID to say so; with none set, they triple-fault.</summary>
    public const ulong LargePage = 2 << 20;

    /// <summary>The MMIO page.</summary>
    public const ulong Mmio = FirstRegion - LargePage;

    /// <summary>Where the first guest memory region starts.</summary>
    public const ulong FirstRegion = 1UL << 30;

    /// <summary>
    /// The end of what may be mapped: with no CPUID set the guest's physical address width is 36
    /// bits, and a page-table entry beyond it is a reserved-bit fault.
    /// </summary>
    public const ulong Limit = 1UL << 36;

    private readonly ulong[] _regionStart;
    private readonly GuestMemory _memory;

    /// <summary>Lays out <paramref name="memory"/>'s regions; throws when they do not fit below <see cref="Limit"/>.</summary>
    public GuestPhysicalMap(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        _regionStart = new ulong[memory.Regions.Count];
        var next = FirstRegion;
        for (var i = 0; i < _regionStart.Length; i++)
        {
            _regionStart[i] = next;
            next = AlignUp(next + memory.Regions[i].Size, LargePage);
        }

        if (next > Limit)
        {
            throw new ArgumentException($"guest memory of {memory.Size} bytes does not fit in the guest's 36-bit physical address space", nameof(memory));
        }

        End = AlignUp(next, 1UL << 30);
    }

    /// <summary>One past the last mapped guest-physical address, a whole GiB.</summary>
    public ulong End { get; }

    /// <summary>The guest-physical address of region <paramref name="region"/>'s first byte.</summary>
    public ulong RegionStart(int region) => _regionStart[region];

    /// <summary>The guest-physical address of guest page <paramref name="guestPage"/> (pages counted through the regions in order).</summary>
    public ulong PageAddress(long guestPage)
    {
        var (region, offset) = Locate(guestPage);
        return _regionStart[region] + offset;
    }

    /// <summary>The region holding guest page <paramref name="guestPage"/> and the page's byte offset in it.</summary>
    public (int Region, ulong Offset) Locate(long guestPage)
    {
        var host = (ulong)_memory.PageAddress(guestPage);
        for (var i = 0; i < _regionStart.Length; i++)
        {
            var region = _memory.Regions[i];
            if (host >= (ulong)region.HostAddress && host < region.EndAddress)
            {
                return (i, host - (ulong)region.HostAddress);
            }
        }

        throw new InvalidOperationException($"guest page {guestPage} is in no region");
    }

    /// <summary>The host address behind <paramref name="guestPhysical"/>, or null when no guest region covers it.</summary>
    public nint? HostAddress(ulong guestPhysical)
    {
        for (var i = 0; i < _regionStart.Length; i++)
        {
            var region = _memory.Regions[i];
            if (guestPhysical >= _regionStart[i] && guestPhysical < _regionStart[i] + region.Size)
            {
                return region.HostAddress + (nint)(guestPhysical - _regionStart[i]);
            }
        }

        return null;
    }

    /// <summary>Rounds <paramref name="value"/> up to a multiple of <paramref name="alignment"/> (a power of two).</summary>
    public static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
