namespace VmmSwap.Cli.Soak;

/// <summary>The commands the soak sends.</summary>
public enum CommandKind
{
    /// <summary>Enable, with the guest paused until its reply.</summary>
    Enable,

    /// <summary>Trim.</summary>
    Trim,

    /// <summary>SwapOut.</summary>
    SwapOut,

    /// <summary>Disable.</summary>
    Disable,

    /// <summary>Status.</summary>
    Status,

    /// <summary>ProcessForked, handing over the second process's userfaultfd.</summary>
    ProcessForked,
}

/// <summary>What became of a command the soak sent.</summary>
public enum CommandResult
{
    /// <summary>Replied Accepted.</summary>
    Accepted,

    /// <summary>Replied Ignored: not valid in the state it arrived in.</summary>
    Ignored,

    /// <summary>Replied Failed (a refusal, or a failure the reply names).</summary>
    Failed,

    /// <summary>A Status that was answered.</summary>
    Answered,

    /// <summary>No reply within the deadline: a hang.</summary>
    Hung,
}
