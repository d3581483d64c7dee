namespace VmmSwap.Actors.Control;

/// <summary>The peer closed its side after <paramref name="bytes"/> bytes of a message without its newline.</summary>
internal sealed class TruncatedMessageException(int bytes)
    : Exception($"the connection ended {bytes} bytes into a message, before its newline");
