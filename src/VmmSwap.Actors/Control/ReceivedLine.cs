using VmmSwap.Native.Interop;

namespace VmmSwap.Actors.Control;

/// <summary>One message as <see cref="LineReader"/> read it: its bytes without the newline, and the descriptors that came with them.</summary>
/// <param name="Bytes">The message, without its newline.</param>
/// <param name="Descriptors">Descriptors received with the message's bytes (SCM_RIGHTS); the receiver owns them.</param>
/// <param name="DescriptorsTruncated">More descriptors were sent with it than a receive takes; the kernel closed the rest.</param>
internal sealed record ReceivedLine(ReadOnlyMemory<byte> Bytes, IReadOnlyList<SafeFd> Descriptors, bool DescriptorsTruncated);
