using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Files;

/// <summary>
/// Files created with O_TMPFILE | O_EXCL and mode 0600: they never have a directory entry, so they
/// vanish when the last descriptor closes (any exit, even a crash) and no other user can open them
/// (O_EXCL forbids ever linking one; only this process's own /proc/self/fd reaches it, which is
/// how <see cref="FileOps.Reopen"/> opens it a second time, and why the owner may read and write).
/// </summary>
public static class TmpFile
{
    // S_IRUSR | S_IWUSR.
    private const uint OwnerReadWrite = 0x180;

    /// <summary>Creates a read/write unnamed file in <paramref name="directory"/>.</summary>
    public static SafeFd Create(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var fd = Libc.Open(directory, Libc.O_TMPFILE | Libc.O_EXCL | Libc.O_RDWR | Libc.O_CLOEXEC, OwnerReadWrite);
        if (fd >= 0)
        {
            return new SafeFd(fd);
        }

        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        var hint = errno switch
        {
            Libc.ENOENT => $"directory '{directory}' does not exist",
            Libc.ENOTDIR => $"'{directory}' is not a directory",
            Libc.EACCES or Libc.EPERM => $"no write permission on '{directory}'",
            Libc.EOPNOTSUPP or Libc.EISDIR or Libc.EINVAL => $"the file system of '{directory}' does not support O_TMPFILE; choose a swap directory on ext4, xfs, btrfs or tmpfs",
            _ => $"directory '{directory}'",
        };
        throw new NativeCallException("open(O_TMPFILE)", errno, hint);
    }
}
