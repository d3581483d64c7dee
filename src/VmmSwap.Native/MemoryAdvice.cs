namespace VmmSwap.Native;

/// <summary>The madvise(2) advice values this runtime uses.</summary>
public enum MemoryAdvice
{
    /// <summary>Expect access soon: read ahead.</summary>
    WillNeed = 3,

    /// <summary>Drop the pages from this mapping (private) or its page tables (shared).</summary>
    DontNeed = 4,

    /// <summary>Free the range and its backing store (punches a hole in shared memory).</summary>
    Remove = 9,
}
