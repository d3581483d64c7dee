namespace VmmSwap.Native.Memory;

/// <summary>The madvise(2) advice values this runtime uses.</summary>
public enum MemoryAdvice
{
    /// <summary>
    /// Drop the range's page-table entries; a file-backed mapping's pages stay in the page cache,
    /// no longer mapped, so POSIX_FADV_DONTNEED can then free them.
    /// </summary>
    DontNeed = 4,

    /// <summary>Free the range and its backing store (punches a hole in shared memory).</summary>
    Remove = 9,
}
