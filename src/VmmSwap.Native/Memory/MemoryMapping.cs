using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>An mmap'd range, unmapped on dispose. Exposes the address, never a managed view.</summary>
public sealed class MemoryMapping : IDisposable
{
    private nint _address;

    private MemoryMapping(nint address, ulong length)
    {
        _address = address;
        Length = length;
    }

    /// <summary>The first byte of the mapping.</summary>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(_address == 0, this);
            return _address;
        }
    }

    /// <summary>The mapping's length in bytes.</summary>
    public ulong Length { get; }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/>, MAP_SHARED.</summary>
    public static MemoryMapping MapShared(SafeFd fd, long offset, ulong length, bool writable)
    {
        ArgumentNullException.ThrowIfNull(fd);
        PageAlignment.Require(0, length, "mmap");
        var prot = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);
        return Map(length, prot, Libc.MAP_SHARED, fd.Value, offset, $"fd {fd.Value} offset {offset} length {length}");
    }

    /// <summary>
    /// As <see cref="MapShared"/>, but at exactly <paramref name="address"/> (MAP_FIXED_NOREPLACE,
    /// Linux 4.17+): two processes can map the same memfd at the same address this way. Refused
    /// with EEXIST, never replacing anything, when any part of the range is already mapped.
    /// </summary>
    public static MemoryMapping MapSharedAt(nint address, SafeFd fd, long offset, ulong length, bool writable)
    {
        ArgumentNullException.ThrowIfNull(fd);
        PageAlignment.Require(address, length, "mmap(MAP_FIXED_NOREPLACE)");
        var prot = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);
        var mapped = Libc.Mmap(address, (nuint)length, prot, Libc.MAP_SHARED | Libc.MAP_FIXED_NOREPLACE, fd.Value, offset);
        if (mapped == -1)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            var detail = errno == Libc.EEXIST
                ? $"0x{address:X}+0x{length:X} overlaps a mapping that is already there"
                : $"fd {fd.Value} offset {offset} at 0x{address:X}+0x{length:X}";
            throw new NativeCallException("mmap(MAP_FIXED_NOREPLACE)", errno, detail);
        }

        if (mapped != address)
        {
            // Kernels before 4.17 take the unknown flag as a mere hint and map elsewhere.
            _ = Libc.Munmap(mapped, (nuint)length);
            throw new NativeCallException("mmap(MAP_FIXED_NOREPLACE)", Libc.EOPNOTSUPP, $"asked for 0x{address:X}, the kernel mapped 0x{mapped:X}: MAP_FIXED_NOREPLACE needs Linux 4.17 or later");
        }

        return new MemoryMapping(mapped, length);
    }

    /// <summary>Maps <paramref name="length"/> bytes of private anonymous memory (zeroed, page-aligned), e.g. a bounce buffer for file reads.</summary>
    public static MemoryMapping MapAnonymous(ulong length)
    {
        PageAlignment.Require(0, length, "mmap");
        return Map(length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0, $"anonymous length {length}");
    }

    /// <summary>
    /// Whether the page at <paramref name="offset"/> is in RAM (mincore); for a file mapping, whether
    /// the file's page is in the page cache, mapped here or not.
    /// </summary>
    public unsafe bool IsResident(ulong offset)
    {
        var page = (ulong)SystemPageSizes.PageSize;
        CheckRange(offset - (offset % page), page);
        byte vector = 0;
        if (Libc.Mincore(Address + (nint)(offset - (offset % page)), (nuint)page, &vector) < 0)
        {
            throw NativeCallException.FromLastError("mincore", $"0x{Address:X}+0x{offset:X}");
        }

        return (vector & 1) != 0;
    }

    /// <summary>Applies <paramref name="advice"/> to a page-aligned sub-range of the mapping.</summary>
    public void Advise(ulong offset, ulong length, MemoryAdvice advice)
    {
        CheckRange(offset, length);
        Madvise.Apply(Address + (nint)offset, length, advice);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            _ = Libc.Munmap(address, (nuint)Length);
        }
    }

    private static MemoryMapping Map(ulong length, int prot, int flags, int fd, long offset, string what)
    {
        var address = Libc.Mmap(0, (nuint)length, prot, flags, fd, offset);
        return address == -1 ? throw NativeCallException.FromLastError("mmap", what) : new MemoryMapping(address, length);
    }

    private void CheckRange(ulong offset, ulong length)
    {
        if (offset > Length || length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"range +0x{offset:X} length 0x{length:X} is outside the 0x{Length:X}-byte mapping");
        }
    }
}
