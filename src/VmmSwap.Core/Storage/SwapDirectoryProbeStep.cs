namespace VmmSwap.Core.Storage;

/// <summary>The steps of <see cref="SwapDirectoryProbe"/>, in order: each is something the swap file needs.</summary>
public enum SwapDirectoryProbeStep
{
    /// <summary>Creating an unnamed file in the directory (open O_TMPFILE).</summary>
    CreateFile,

    /// <summary>Writing pages to the file (pwrite).</summary>
    Write,

    /// <summary>Mapping the file shared and read-only (mmap), as the swap file's reads do.</summary>
    Map,

    /// <summary>Reading the written bytes back through the mapping.</summary>
    ReadThroughMapping,

    /// <summary>Freeing a page of the file (fallocate PUNCH_HOLE) and reading it back as zeros, as trim and swap-in do.</summary>
    PunchHole,

    /// <summary>Writing a page from a memfd through a second, write-only descriptor (open /proc/self/fd, then sendfile), as swap-out does.</summary>
    SendFromMemFd,
}
