namespace VmmSwap.Native;

/// <summary>The fields of fstat(2) this runtime looks at.</summary>
/// <param name="Size">The file size in bytes.</param>
/// <param name="AllocatedBytes">Bytes of storage allocated (st_blocks × 512).</param>
/// <param name="Permissions">The permission bits (mode &amp; 07777).</param>
/// <param name="LinkCount">Directory entries naming the file; 0 for an unlinked or O_TMPFILE file.</param>
public readonly record struct FileStatus(long Size, long AllocatedBytes, int Permissions, long LinkCount);
