using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>madvise(2) over an address range that the caller owns.</summary>
public static class Madvise
{
    /// <summary>Applies <paramref name="advice"/> to <paramref name="address"/>..+<paramref name="length"/>.</summary>
    public static void Apply(nint address, ulong length, MemoryAdvice advice)
    {
        PageAlignment.Require(address, length, $"madvise({advice})");
        if (Libc.Madvise(address, (nuint)length, (int)advice) < 0)
        {
            throw NativeCallException.FromLastError($"madvise(MADV_{advice.ToString().ToUpperInvariant()})", $"at 0x{address:X} length 0x{length:X}");
        }
    }
}
