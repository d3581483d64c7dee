namespace VmmSwap.Native.Files;

/// <summary>The fields of fstat(2) this runtime looks at.</summary>
/// <param name="Size">The file size in bytes.</param>
/// <param name="AllocatedBytes">Bytes of storage allocated (st_blocks × 512).</param>
/// <param name="Permissions">The permission bits (mode &amp; 07777).</param>
/// <param name="LinkCount">Directory entries naming the file; 0 for an unlinked or O_TMPFILE file.</param>
/// <param name="Device">The device holding the file (st_dev); with <paramref name="Inode"/> it identifies the file whichever descriptor reaches it.</param>
/// <param name="Inode">The file's inode number on <paramref name="Device"/> (st_ino).</param>
public readonly record struct FileStatus(long Size, long AllocatedBytes, int Permissions, long LinkCount, ulong Device, ulong Inode)
{
    /// <summary><see cref="Device"/> as <c>major:minor</c>, in decimal, the way /proc/self/mountinfo shows it (glibc's dev_t encoding).</summary>
    public string DeviceNumber => $"{((Device >> 8) & 0xFFF) | ((Device >> 32) & ~0xFFFUL)}:{(Device & 0xFF) | ((Device >> 12) & ~0xFFUL)}";
}
