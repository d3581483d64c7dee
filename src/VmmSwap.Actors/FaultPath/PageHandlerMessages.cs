using Akka.Actor;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.FaultPath;

/// <summary>Events drained from one userfaultfd, in the order read. Served ahead of background work.</summary>
internal sealed record UffdEventBatch(Userfaultfd Source, UffdEvent[] Events);

/// <summary>Retry faults the kernel deferred (EAGAIN) while a remove event was pending.</summary>
internal sealed record RetryDeferredFaults
{
    internal static RetryDeferredFaults Instance { get; } = new();
}

/// <summary>Free what served faults left (released staging pages, swap-file pages read through its mapping); sent after fault batches at background priority.</summary>
internal sealed record FlushServed
{
    internal static FlushServed Instance { get; } = new();
}

/// <summary>
/// Take <paramref name="Uffd"/> (already validated) into the page state, its process mapping the
/// guest as <paramref name="Layout"/> says (the host's addresses when null): registered with every
/// guest region at once while enabled, or checked by registering and unregistering them while
/// disabled. Answered with <see cref="UffdAttached"/> to the supervisor, for <paramref name="Command"/>.
/// </summary>
internal sealed record AttachUffd(Userfaultfd Uffd, GuestLayout? Layout, IActorRef ReplyTo, string Command);

/// <summary>
/// Drop <paramref name="Uffd"/> for good (its process detached or exited): its ranges are
/// unregistered if registered. Answered with <see cref="UffdDetached"/> to the supervisor.
/// </summary>
internal sealed record DetachUffd(Userfaultfd Uffd, IActorRef ReplyTo);

/// <summary>Create the page state if needed, register every region with <paramref name="Uffds"/>, move resident pages to staging.</summary>
internal sealed record StartEnable(IReadOnlyList<Userfaultfd> Uffds);

/// <summary>One move-to-staging batch has run, or failed with <paramref name="Error"/>.</summary>
internal sealed record BatchDone(Exception? Error);

/// <summary>Run the next chunk of a job.</summary>
internal sealed record RunChunk(JobKind Kind);

/// <summary>Copy the next swap-in step for <paramref name="Job"/>, <paramref name="Pages"/> pages into its chunk.</summary>
internal sealed record ContinueSwapIn(IActorRef Job, long Pages);

/// <summary>A job is over (finished or aborted): drop its context.</summary>
internal sealed record EndJob(JobKind Kind);

/// <summary>Unregister every region from <paramref name="Uffds"/> and drop the page state.</summary>
internal sealed record FinishDisable(IReadOnlyList<Userfaultfd> Uffds);

/// <summary>A job's work has run, or failed with <paramref name="Error"/>; its driver completes it.</summary>
internal sealed record WorkDone(PageWork Work, Exception? Error);

/// <summary>
/// A fault read has run, or failed with <paramref name="Error"/>: the faults parked on it are
/// served again. Served ahead of background work, like the faults themselves.
/// </summary>
internal sealed record FaultReadDone(FaultRead Read, Exception? Error);

/// <summary>
/// The fault thread's io_uring has completed fault reads (its eventfd was readable): reap them and
/// serve their parked faults again. Served ahead of background work, like the faults themselves.
/// </summary>
internal sealed record FaultReadsCompleted
{
    internal static FaultReadsCompleted Instance { get; } = new();
}

/// <summary>A fault read held by a test's gate was let through: start it on the io_uring now.</summary>
internal sealed record StartHeldRead(FaultRead Read);
