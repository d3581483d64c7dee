using Mono.Unix.Native;

namespace VmmSwap.Native;

/// <summary>mlock(2) / munlock(2), through Mono.Posix.</summary>
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

    /// <summary>Unlocks the range.</summary>
    public static void Unlock(nint address, ulong length)
    {
        if (Syscall.munlock(address, length) < 0)
        {
            throw new NativeCallException("munlock", NativeConvert.FromErrno(Stdlib.GetLastError()), $"at 0x{address:X} length 0x{length:X}");
        }
    }
}
