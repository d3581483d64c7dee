using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Memory;

/// <summary>memfd_create: anonymous shared memory with a file descriptor, sized with ftruncate.</summary>
public static class MemFd
{
    /// <summary>Creates a memfd named <paramref name="name"/> of <paramref name="size"/> bytes (a sparse hole).</summary>
    public static SafeFd Create(string name, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var fd = SafeFd.Check(Libc.MemfdCreate(name, Libc.MFD_CLOEXEC), "memfd_create", $"name '{name}'");
        try
        {
            FileOps.Truncate(fd, size);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }
}
