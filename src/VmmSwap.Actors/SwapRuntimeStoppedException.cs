namespace VmmSwap.Actors;

/// <summary>A command was sent to a vmm-swap runtime that has stopped (after Exit, or with its ActorSystem).</summary>
public sealed class SwapRuntimeStoppedException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="command"/>.</summary>
    public SwapRuntimeStoppedException(string command)
        : base($"{command}: the vmm-swap runtime has stopped (after Exit, or with its actor system); start a new one") => Command = command;

    /// <summary>The command that could not be sent.</summary>
    public string Command { get; }
}
