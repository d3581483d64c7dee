namespace VmmSwap.Cli.Control;

/// <summary>The control socket could not be reached, or did not speak the protocol; the message says how.</summary>
public sealed class ControlUnreachableException(string message) : Exception(message);
