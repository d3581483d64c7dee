using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Pages;

/// <summary>Page arithmetic on host addresses, with the base page and transparent huge page sizes of this machine.</summary>
public static class PageSize
{
    /// <summary>The base page size in bytes.</summary>
    public static readonly int Bytes = SystemPageSizes.PageSize;

    /// <summary>log2 of <see cref="Bytes"/>.</summary>
    public static readonly int Shift = System.Numerics.BitOperations.Log2((uint)Bytes);

    /// <summary>The transparent huge page size in bytes.</summary>
    public static long HugeBytes => SystemPageSizes.HugePageSize;

    /// <summary>The index of the page holding <paramref name="address"/>.</summary>
    public static long AddressToPageIndex(ulong address) => (long)(address >> Shift);

    /// <summary>The first address of page <paramref name="pageIndex"/>.</summary>
    public static ulong PageIndexToAddress(long pageIndex) => (ulong)pageIndex << Shift;

    /// <summary>The first address of the page holding <paramref name="address"/>.</summary>
    public static ulong PageBase(ulong address) => address & ~(ulong)(Bytes - 1);

    /// <summary>True when <paramref name="value"/> (an address or a size) is a multiple of the page size.</summary>
    public static bool IsAligned(ulong value) => (value & (ulong)(Bytes - 1)) == 0;

    /// <summary>Whole pages in <paramref name="bytes"/> (rounded down).</summary>
    public static long BytesToPages(ulong bytes) => (long)(bytes >> Shift);

    /// <summary>Bytes in <paramref name="pages"/> pages.</summary>
    public static ulong PagesToBytes(long pages) => (ulong)pages << Shift;

    /// <summary>True when <paramref name="address"/> is a multiple of the huge page size.</summary>
    public static bool IsHugePageAligned(ulong address) => address % (ulong)HugeBytes == 0;

    /// <summary>The smallest multiple of the huge page size at or above <paramref name="address"/>.</summary>
    public static ulong RoundUpHugePage(ulong address)
    {
        var huge = (ulong)HugeBytes;
        return (address + huge - 1) / huge * huge;
    }
}
