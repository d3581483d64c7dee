using System.IO.Hashing;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Guest;

/// <summary>
/// A guest's memory: one or more memfd-backed regions. Once registered with userfaultfd, a
/// touch of a missing page blocks the touching thread until the fault is served, so every
/// accessor here reaches guest bytes only through native calls (docs/ARCHITECTURE.md, "GC safety"): a thread that
/// waits in a fault is then in native code and a GC never waits for it.
/// </summary>
public sealed class GuestMemory : IDisposable
{
    private readonly GuestRegion[] _regions;
    private readonly long[] _firstPage;

    /// <summary>
    /// Wraps <paramref name="regions"/>; they must not overlap in host addresses, nor map the same
    /// memfd bytes (<see cref="AliasedGuestRegionsException"/>, naming both regions).
    /// </summary>
    public GuestMemory(IEnumerable<GuestRegion> regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        _regions = [.. regions];
        if (_regions.Length == 0)
        {
            throw new ArgumentException("guest memory needs at least one region", nameof(regions));
        }

        GuestRegionOverlap.ThrowIfAny(_regions);
        _firstPage = new long[_regions.Length];
        long pages = 0;
        for (var i = 0; i < _regions.Length; i++)
        {
            _firstPage[i] = pages;
            pages += _regions[i].PageCount;
        }

        PageCount = pages;
    }

    /// <summary>The regions, in the order given.</summary>
    public IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>Total guest pages over all regions.</summary>
    public long PageCount { get; }

    /// <summary>Total guest bytes over all regions.</summary>
    public ulong Size => PageSize.PagesToBytes(PageCount);

    /// <summary>Creates guest memory of fresh memfd regions with the given sizes.</summary>
    public static GuestMemory Create(params ulong[] regionSizes)
    {
        ArgumentNullException.ThrowIfNull(regionSizes);
        var regions = new List<GuestRegion>();
        try
        {
            for (var i = 0; i < regionSizes.Length; i++)
            {
                regions.Add(GuestRegion.Create($"vmm-swap guest {i}", regionSizes[i]));
            }

            return new GuestMemory(regions);
        }
        catch
        {
            regions.ForEach(r => r.Dispose());
            throw;
        }
    }

    /// <summary>
    /// The host address of guest page <paramref name="guestPage"/>, counting pages through the
    /// regions in order.
    /// </summary>
    public nint PageAddress(long guestPage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(guestPage);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(guestPage, PageCount);
        var i = Array.BinarySearch(_firstPage, guestPage);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return _regions[i].HostAddress + (nint)PageSize.PagesToBytes(guestPage - _firstPage[i]);
    }

    /// <summary>Copies guest bytes at <paramref name="address"/> into <paramref name="destination"/>.</summary>
    public unsafe void Read(nint address, Span<byte> destination)
    {
        Check(address, (ulong)destination.Length);
        fixed (byte* p = destination)
        {
            NativeBytes.Copy((nint)p, address, (ulong)destination.Length);
        }
    }

    /// <summary>Copies <paramref name="source"/> into guest memory at <paramref name="address"/>.</summary>
    public unsafe void Write(nint address, ReadOnlySpan<byte> source)
    {
        Check(address, (ulong)source.Length);
        fixed (byte* p = source)
        {
            NativeBytes.Copy(address, (nint)p, (ulong)source.Length);
        }
    }

    /// <summary>Sets <paramref name="length"/> guest bytes at <paramref name="address"/> to <paramref name="value"/>.</summary>
    public void Fill(nint address, byte value, ulong length)
    {
        Check(address, length);
        NativeBytes.Fill(address, value, length);
    }

    /// <summary>
    /// Gives the pages at <paramref name="address"/>..+<paramref name="length"/> back to the host
    /// (MADV_REMOVE), as a balloon driver does: they read as zeros afterwards. While the guest is
    /// registered with userfaultfd the kernel holds the caller until the runtime has read the
    /// remove event, so this too may block and is a native call.
    /// </summary>
    public void Remove(nint address, ulong length)
    {
        Check(address, length);
        Madvise.Apply(address, length, MemoryAdvice.Remove);
    }

    /// <summary>
    /// A 64-bit checksum (XxHash3) of the page at <paramref name="pageAddress"/>. The page is first
    /// copied out by native code; the hash runs over that private copy.
    /// </summary>
    public ulong PageChecksum(nint pageAddress)
    {
        if (!PageSize.IsAligned((ulong)pageAddress))
        {
            throw new ArgumentException($"0x{pageAddress:X} is not a page address", nameof(pageAddress));
        }

        var buffer = PageBuffer.Value!;
        Read(pageAddress, buffer);
        return XxHash3.HashToUInt64(buffer);
    }

    /// <summary>The checksum <see cref="PageChecksum"/> gives for <paramref name="page"/> held in managed memory.</summary>
    public static ulong ChecksumOf(ReadOnlySpan<byte> page) => XxHash3.HashToUInt64(page);

    /// <summary>Releases the regions this instance created (adopted regions stay the host's).</summary>
    public void Dispose()
    {
        foreach (var region in _regions)
        {
            region.Dispose();
        }
    }

    private static readonly ThreadLocal<byte[]> PageBuffer = new(() => GC.AllocateUninitializedArray<byte>(PageSize.Bytes, pinned: true));

    private void Check(nint address, ulong length)
    {
        foreach (var region in _regions)
        {
            if (region.Contains((ulong)address, length))
            {
                return;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(address), $"guest range 0x{address:X}+0x{length:X} is not inside one guest region");
    }
}
