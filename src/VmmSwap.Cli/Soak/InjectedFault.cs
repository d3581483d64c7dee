namespace VmmSwap.Cli.Soak;

/// <summary>The faults the soak injects.</summary>
public enum FaultKind
{
    /// <summary>The swap directory's file system fills up while a swap-out writes.</summary>
    SwapDirFull,

    /// <summary>The second process is SIGKILLed while it waits in a fault.</summary>
    ChildKilledWhileFaulting,

    /// <summary>Swap-in reads from a disk throttled with cgroup v2 io.max.</summary>
    ThrottledDisk,
}

/// <summary>How often a fault was injected, how often it was seen to bite, and how often the runtime came through it.</summary>
/// <param name="Kind">The fault.</param>
/// <param name="Method">How it is injected here, or why it cannot be ("not available (why)").</param>
/// <param name="Available">False when this machine cannot inject it.</param>
/// <param name="Injected">Times injected.</param>
/// <param name="TookEffect">Times it was seen to bite (the swap-out failed with ENOSPC; the child was seen waiting in a fault when killed).</param>
/// <param name="Survived">Times the cycle it was injected in ended in Ready with no page lost and nothing hung.</param>
public sealed record InjectedFault(FaultKind Kind, string Method, bool Available, int Injected, int TookEffect, int Survived);
