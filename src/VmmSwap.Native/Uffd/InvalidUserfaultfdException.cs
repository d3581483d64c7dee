namespace VmmSwap.Native.Uffd;

/// <summary>
/// A descriptor handed over as a userfaultfd cannot serve guest memory: it is closed, not a
/// userfaultfd, not handshaken (UFFDIO_API), or lacks the features the runtime needs.
/// </summary>
public sealed class InvalidUserfaultfdException : Exception
{
    /// <summary>Creates the exception for descriptor <paramref name="fd"/> with the <paramref name="reason"/>.</summary>
    public InvalidUserfaultfdException(int fd, string reason)
        : base($"descriptor {fd} is not a usable userfaultfd: {reason}")
    {
        Fd = fd;
        Reason = reason;
    }

    /// <summary>The descriptor number (in this process).</summary>
    public int Fd { get; }

    /// <summary>Why it is refused.</summary>
    public string Reason { get; }
}
