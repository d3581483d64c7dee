namespace VmmSwap.Native.Memory;

/// <summary>Argument checks for calls that need page-aligned addresses and lengths.</summary>
internal static class PageAlignment
{
    internal static void Require(nint address, ulong length, string call)
    {
        var mask = (ulong)SystemPageSizes.PageSize - 1;
        if (((ulong)address & mask) != 0)
        {
            throw new ArgumentException($"{call}: address 0x{address:X} is not aligned to the {SystemPageSizes.PageSize}-byte page", nameof(address));
        }

        if (length == 0 || (length & mask) != 0)
        {
            throw new ArgumentException($"{call}: length 0x{length:X} is not a positive multiple of the {SystemPageSizes.PageSize}-byte page", nameof(length));
        }
    }
}
