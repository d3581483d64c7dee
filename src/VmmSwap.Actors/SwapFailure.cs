using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors;

/// <summary>What kind of failure moved vmm-swap to <see cref="SwapState.Failed"/>, so a host can act on it.</summary>
public enum SwapFailureKind
{
    /// <summary>The swap directory's file system is full (ENOSPC, EDQUOT), possibly only found at writeback.</summary>
    DiskFull,

    /// <summary>A system call on the swap file, staging or a userfaultfd failed (the errno is in the message).</summary>
    IoError,

    /// <summary>A process whose memory was registered is gone.</summary>
    ProcessGone,

    /// <summary>A defect in the runtime: a state it should never reach.</summary>
    Internal,
}

/// <summary>The cause of a failure: its kind and a message naming the call and errno where there is one.</summary>
/// <param name="Kind">What kind of failure it is.</param>
/// <param name="Message">What failed, for people.</param>
public sealed record SwapFailure(SwapFailureKind Kind, string Message)
{
    /// <summary>Classifies <paramref name="error"/>, prefixing its message with <paramref name="context"/>.</summary>
    public static SwapFailure From(Exception error, string context)
    {
        ArgumentNullException.ThrowIfNull(error);
        var kind = error switch
        {
            UffdTargetGoneException => SwapFailureKind.ProcessGone,
            NativeCallException { IsDiskFull: true } => SwapFailureKind.DiskFull,
            IOException => SwapFailureKind.IoError,
            _ => SwapFailureKind.Internal,
        };
        return new SwapFailure(kind, $"{context}: {error.Message}");
    }
}

/// <summary>
/// Published on the ActorSystem's EventStream when vmm-swap moves to <see cref="SwapState.Failed"/>.
/// Pages are kept where they are; Disable brings them back when the cause allows.
/// </summary>
/// <param name="Supervisor">The supervisor of the guest that failed.</param>
/// <param name="Failure">Why.</param>
public sealed record VmmSwapFailed(Akka.Actor.IActorRef Supervisor, SwapFailure Failure);
