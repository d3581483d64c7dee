using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>
/// memcpy / memset / memcmp in libc. The one sanctioned way for managed code to read or write
/// memory that may be registered with userfaultfd: the calling thread sits in native code, in
/// preemptive GC mode, while it waits in a page fault, so a GC never waits for it (docs/ARCHITECTURE.md, "GC safety").
/// </summary>
public static class NativeBytes
{
    /// <summary>Copies <paramref name="length"/> bytes; the ranges must not overlap.</summary>
    public static void Copy(nint destination, nint source, ulong length) => Libc.Memcpy(destination, source, (nuint)length);

    /// <summary>Sets <paramref name="length"/> bytes to <paramref name="value"/>.</summary>
    public static void Fill(nint destination, byte value, ulong length) => Libc.Memset(destination, value, (nuint)length);

    /// <summary>Compares two ranges; true when they hold the same bytes.</summary>
    public static bool Equal(nint a, nint b, ulong length) => Libc.Memcmp(a, b, (nuint)length) == 0;
}
