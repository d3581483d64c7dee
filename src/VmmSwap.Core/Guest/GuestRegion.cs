using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Guest;

/// <summary>
/// One region of guest memory: a MAP_SHARED mapping of a memfd at a host address. The memfd is
/// what lets the runtime find resident pages (SEEK_DATA) and free them (hole punching).
/// </summary>
public sealed class GuestRegion : IDisposable
{
    private readonly MemoryMapping? _ownedMapping;
    private readonly bool _ownsMemFd;

    private GuestRegion(nint hostAddress, ulong size, SafeFd memFd, long memFdOffset, MemoryMapping? ownedMapping, bool ownsMemFd)
    {
        HostAddress = hostAddress;
        Size = size;
        MemFd = memFd;
        MemFdOffset = memFdOffset;
        _ownedMapping = ownedMapping;
        _ownsMemFd = ownsMemFd;
    }

    /// <summary>The host virtual address of the region's first byte.</summary>
    public nint HostAddress { get; }

    /// <summary>The region's size in bytes (a multiple of the page size).</summary>
    public ulong Size { get; }

    /// <summary>The memfd backing the region.</summary>
    public SafeFd MemFd { get; }

    /// <summary>The region's offset in <see cref="MemFd"/>.</summary>
    public long MemFdOffset { get; }

    /// <summary>One past the last host address of the region.</summary>
    public ulong EndAddress => (ulong)HostAddress + Size;

    /// <summary>Pages in the region.</summary>
    public long PageCount => PageSize.BytesToPages(Size);

    /// <summary>
    /// Pages of the region resident in RAM, from the memfd's data ranges (SEEK_DATA / SEEK_HOLE):
    /// a syscall pair per run, so it costs more the more fragmented the region is. Safe on any
    /// thread; under concurrent faults it is a snapshot.
    /// </summary>
    public long ResidentPages()
    {
        long pages = 0;
        foreach (var (start, end) in FileOps.DataRanges(MemFd, MemFdOffset, MemFdOffset + (long)Size))
        {
            pages += PageSize.BytesToPages((ulong)(end - start));
        }

        return pages;
    }

    /// <summary>Creates a fresh, sparse memfd of <paramref name="size"/> bytes and maps it shared.</summary>
    public static GuestRegion Create(string name, ulong size)
    {
        RequireSize(size);
        var memFd = Native.Memory.MemFd.Create(name, (long)size);
        try
        {
            var mapping = MemoryMapping.MapShared(memFd, 0, size, writable: true);
            return new GuestRegion(mapping.Address, size, memFd, 0, mapping, ownsMemFd: true);
        }
        catch
        {
            memFd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Describes a region the host already mapped: <paramref name="size"/> bytes at
    /// <paramref name="hostAddress"/>, a MAP_SHARED mapping of <paramref name="memFd"/> at
    /// <paramref name="memFdOffset"/>. The host keeps ownership of the mapping and the descriptor.
    /// </summary>
    public static GuestRegion Adopt(nint hostAddress, ulong size, SafeFd memFd, long memFdOffset)
    {
        ArgumentNullException.ThrowIfNull(memFd);
        RequireAligned((ulong)hostAddress, nameof(hostAddress));
        RequireSize(size);
        RequireAligned((ulong)memFdOffset, nameof(memFdOffset));
        return new GuestRegion(hostAddress, size, memFd, memFdOffset, null, ownsMemFd: false);
    }

    /// <summary>True when [<paramref name="address"/>, +<paramref name="length"/>) lies inside the region.</summary>
    public bool Contains(ulong address, ulong length) =>
        address >= (ulong)HostAddress && length <= Size && address - (ulong)HostAddress <= Size - length;

    /// <inheritdoc />
    public void Dispose()
    {
        _ownedMapping?.Dispose();
        if (_ownsMemFd)
        {
            MemFd.Dispose();
        }
    }

    private static void RequireSize(ulong size)
    {
        ArgumentOutOfRangeException.ThrowIfZero(size);
        RequireAligned(size, nameof(size));
    }

    private static void RequireAligned(ulong value, string name)
    {
        if (!PageSize.IsAligned(value))
        {
            throw new ArgumentException($"guest region {name} 0x{value:X} is not a multiple of the {PageSize.Bytes}-byte page", name);
        }
    }
}
