using System.Buffers;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>How much of a file sits in RAM: its page-cache pages (mincore over a read-only mapping).</summary>
public static unsafe class PageCache
{
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
        var pages = checked((int)(length / (ulong)page));

        // A status asks this of a swap file of a page per guest page: a vector of a byte per page
        // (1 MiB for 4 GiB) allocated on every call would land on the large-object heap each time.
        var vector = ArrayPool<byte>.Shared.Rent(pages);
        try
        {
            fixed (byte* v = vector)
            {
                if (Libc.Mincore(mapping.Address, (nuint)length, v) < 0)
                {
                    throw NativeCallException.FromLastError("mincore", $"fd {fd.Value} length {length}");
                }
            }

            long resident = 0;
            foreach (var b in vector.AsSpan(0, pages))
            {
                resident += b & 1;
            }

            return resident * page;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(vector);
        }
    }
}
