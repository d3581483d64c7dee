namespace VmmSwap.Actors.Control;

/// <summary>A message grew past <see cref="ControlProtocol.MaxMessageBytes"/> without its newline.</summary>
internal sealed class MessageTooLargeException()
    : Exception($"a message is longer than {ControlProtocol.MaxMessageBytes} bytes (newline included)");
