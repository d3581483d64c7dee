namespace VmmSwap.Actors;

/// <summary>A command failed; the message carries the runtime's reason.</summary>
public sealed class SwapCommandException : Exception
{
    /// <summary>Creates the exception from the failed reply.</summary>
    public SwapCommandException(CommandReply reply)
        : base($"vmm-swap {reply?.Command} failed: {reply?.Reason}") => Reply = reply!;

    /// <summary>The reply that reported the failure.</summary>
    public CommandReply Reply { get; }
}
