using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// The PageHandler's mailbox: userfaultfd events (and deferred-fault retries, and the reads
/// parked faults wait for) come before
/// everything else, in arrival order within each class, so a fault waits for at most the one
/// background chunk already running.
/// </summary>
public sealed class PageHandlerMailbox : UnboundedStablePriorityMailbox
{
    /// <summary>Called by Akka with the mailbox's config section.</summary>
    public PageHandlerMailbox(Settings settings, Config config)
        : base(settings, config)
    {
    }

    /// <inheritdoc />
    protected override int PriorityGenerator(object message) => message switch
    {
        UffdEventBatch or RetryDeferredFaults or FaultReadDone or FaultReadsCompleted or StartHeldRead => 0,
        _ => 1,
    };
}
