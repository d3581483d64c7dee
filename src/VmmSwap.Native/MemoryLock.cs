using Mono.Unix.Native;

namespace VmmSwap.Native;

/// <summary>mlock(2) / munlock(2) through Mono.Posix, and mlock2(2).</summary>
public static class MemoryLock
{
    /// <summary>Locks the range into RAM, faulting it in.</summary>
    public static void Lock(nint address, ulong length)
    {
        if (Syscall.mlock(address, length) < 0)
        {
            throw new NativeCallException("mlock", NativeConvert.FromErrno(Stdlib.GetLastError()), $"at 0x{address:X} length 0x{length:X}");
        }
    }

    /// <summary>
    /// Locks the range page by page as it is faulted in (mlock2 MLOCK_ONFAULT), so read-ahead
    /// started with MADV_WILLNEED stays in RAM without blocking here. Mono.Posix has no mlock2.
    /// </summary>
    public static void LockOnFault(nint address, ulong length)
    {
        if (Libc.Mlock2(address, (nuint)length, Libc.MLOCK_ONFAULT) < 0)
        {
            throw NativeCallException.FromLastError("mlock2(MLOCK_ONFAULT)", $"at 0x{address:X} length 0x{length:X}");
        }
    }

    /// <summary>Unlocks the range.</summary>
    public static void Unlock(nint address, ulong length)
    {
        if (Syscall.munlock(address, length) < 0)
        {
            throw new NativeCallException("munlock", NativeConvert.FromErrno(Stdlib.GetLastError()), $"at 0x{address:X} length 0x{length:X}");
        }
    }
}
