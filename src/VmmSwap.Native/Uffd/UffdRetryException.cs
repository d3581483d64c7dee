using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Uffd;

/// <summary>
/// The kernel refused a userfaultfd ioctl with EAGAIN because the address space is changing: a
/// remove (or other non-cooperative) event is pending. Read the pending events first, then retry
/// the part not done.
/// </summary>
public sealed class UffdRetryException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> after <paramref name="bytesDone"/> bytes.</summary>
    public UffdRetryException(string call, ulong bytesDone)
        : base(call, Libc.EAGAIN, "an event is pending on the userfaultfd: read events, then retry") => BytesDone = bytesDone;

    /// <summary>Bytes at the start of the request that were completed before the refusal.</summary>
    public ulong BytesDone { get; }
}
