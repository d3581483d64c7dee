using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Sockets;

/// <summary>What one recvmsg(2) on a Unix socket gave: bytes and the descriptors that came with them.</summary>
/// <param name="Length">Bytes received; 0 at the end of the stream.</param>
/// <param name="Descriptors">Descriptors received (SCM_RIGHTS), owned by the caller, close-on-exec.</param>
/// <param name="DescriptorsTruncated">
/// More descriptors were sent than the receive had room for (MSG_CTRUNC): the kernel closed the
/// rest, so the sender's set is incomplete.
/// </param>
public sealed record ReceivedMessage(int Length, IReadOnlyList<SafeFd> Descriptors, bool DescriptorsTruncated);
