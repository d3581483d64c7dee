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
        var pages = (long)(length / (ulong)page);
        var vector = new byte[pages];
        fixed (byte* v = vector)
        {
            if (Libc.Mincore(mapping.Address, (nuint)length, v) < 0)
            {
                throw NativeCallException.FromLastError("mincore", $"fd {fd.Value} length {length}");
            }
        }

        long resident = 0;
        foreach (var b in vector)
        {
            resident += b & 1;
        }

        return resident * page;
    }
}
