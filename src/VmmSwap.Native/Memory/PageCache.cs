using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>How much of a file sits in RAM: its page-cache pages (mincore over a read-only mapping).</summary>
public static unsafe class PageCache
{
    // Pages per mincore call: a 4 KiB vector.
    private const int VectorPages = 4096;

    /// <summary>Bytes of <paramref name="fd"/> resident in the page cache.</summary>
    public static long ResidentBytes(SafeFd fd)
    {
        var size = FileOps.Status(fd).Size;
        if (size == 0)
        {
            return 0;
        }

        var page = SystemPageSizes.PageSize;
        var length = (ulong)((size + page - 1) / page * page);
        using var mapping = MemoryMapping.MapShared(fd, 0, length, writable: false);

        // A status asks this of a swap file of a page per guest page: a vector of a byte per page
        // (1 MiB for 4 GiB) would be garbage on every call, or, pooled, heap kept for good. A
        // fixed vector on the stack, a stretch of the mapping at a time, costs neither.
        Span<byte> vector = stackalloc byte[VectorPages];
        long resident = 0;
        for (ulong offset = 0; offset < length; offset += (ulong)(VectorPages * page))
        {
            var stretch = Math.Min(length - offset, (ulong)(VectorPages * page));
            var pages = (int)(stretch / (ulong)page);
            fixed (byte* v = vector)
            {
                if (Libc.Mincore(mapping.Address + (nint)offset, (nuint)stretch, v) < 0)
                {
                    throw NativeCallException.FromLastError("mincore", $"fd {fd.Value} offset {offset} length {stretch}");
                }
            }

            foreach (var b in vector[..pages])
            {
                resident += b & 1;
            }
        }

        return resident * page;
    }
}
