namespace VmmSwap.Native.Uffd;

/// <summary>What a userfaultfd event reports.</summary>
public enum UffdEventKind : byte
{
    /// <summary>A thread touched a missing page of a registered range and waits for it.</summary>
    PageFault,

    /// <summary>A registered range was dropped with MADV_REMOVE or MADV_DONTNEED.</summary>
    Remove,

    /// <summary>An event this runtime does not request or handle (fork, remap, unmap).</summary>
    Unsupported,
}

/// <summary>One event read from a userfaultfd.</summary>
/// <param name="Kind">The kind of event.</param>
/// <param name="Address">The faulting address (page fault) or the start of the removed range.</param>
/// <param name="End">The end (exclusive) of the removed range; 0 for other kinds.</param>
/// <param name="Flags">Page-fault flags (write, minor, wp); the raw event code for unsupported events.</param>
public readonly record struct UffdEvent(UffdEventKind Kind, ulong Address, ulong End, ulong Flags)
{
    /// <summary>The fault was a write access.</summary>
    public bool IsWrite => Kind == UffdEventKind.PageFault && (Flags & 1) != 0;
}
