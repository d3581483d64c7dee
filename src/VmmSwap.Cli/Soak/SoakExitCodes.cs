namespace VmmSwap.Cli.Soak;

/// <summary>The soak's exit codes; when several apply, the first in this order wins.</summary>
public static class SoakExitCodes
{
    /// <summary>Nothing lost, nothing hung, nothing leaked, everything asked for ran.</summary>
    public const int Ok = 0;

    /// <summary>A page read back wrong: data was lost.</summary>
    public const int Lost = 1;

    /// <summary>The command line was refused before anything ran.</summary>
    public const int BadInput = 2;

    /// <summary>A command, guest access, state change, page check or the second process missed its deadline.</summary>
    public const int Hang = 3;

    /// <summary>Open descriptors, VmRSS or the managed heap grew beyond their tolerance.</summary>
    public const int Leak = 4;

    /// <summary>The soak did not do all it was asked: interrupted, could not set up, or part of it failed to run.</summary>
    public const int Incomplete = 5;

    /// <summary>The codes as the help text lists them.</summary>
    public const string Help = "Exit codes (the first that applies): 0 nothing lost, hung or leaked; 1 pages lost; 3 a hang; 4 a leak; 5 incomplete (interrupted, setup failed, or part of the soak could not run); 2 bad input.";
}
