namespace VmmSwap.Native;

/// <summary>The madvise(2) advice values this runtime uses.</summary>
public enum MemoryAdvice
{
    /// <summary>Free the range and its backing store (punches a hole in shared memory).</summary>
    Remove = 9,
}
