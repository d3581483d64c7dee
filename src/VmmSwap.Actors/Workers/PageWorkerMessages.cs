using Akka.Actor;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Jobs;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Staging;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Workers;

/// <summary>
/// A status to send (alone, or in the reply to <paramref name="Command"/>) to
/// <paramref name="ReplyTo"/>, once the status worker has added the metrics.
/// </summary>
internal sealed record ReportStatus(IActorRef ReplyTo, SwapState State, StateTransition Transition, SwapFailure? Failure, string? Command, CommandOutcome Outcome, string? Reason)
{
    /// <summary>The status with <paramref name="metrics"/> and <paramref name="hostMemory"/>, or the command reply carrying it.</summary>
    internal object ReplyWith(SwapMetrics metrics, HostMemoryUse? hostMemory)
    {
        var status = new SwapStatus(State, metrics, Transition, Failure, hostMemory);
        return Command is null ? status : new CommandReply(Command, Outcome, Reason, status);
    }
}

/// <summary>
/// Answer <paramref name="Request"/> with the counters published in <paramref name="Counters"/>
/// and the resident pages of <paramref name="Regions"/> (none while disabled: metrics are zero
/// then), on the status worker: the count walks the guest memfds.
/// </summary>
internal sealed record CompleteStatus(ReportStatus Request, PublishedCounters Counters, IReadOnlyList<GuestRegion> Regions);

/// <summary>Execute one move-to-staging batch (sent to the pool).</summary>
internal sealed record ExecuteBatch(MoveToStagingBatch Batch);

/// <summary>Execute a job's work (a swap-out write or flush, a trim window, a swap-in read), sent to the pool by a <see cref="JobDriver"/>.</summary>
internal sealed record ExecuteWork(PageWork Work);

/// <summary>Close page state after a disable, freeing the swap file's blocks (sent to the pool; not answered).</summary>
internal sealed record DisposePageState(PageHandler Handler);
