using Akka.Event;
using VmmSwap.Core;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// A driver whose work writes staging or the swap file (swap-out, trim): a job that died with
/// such work in flight must not have it complete later against another job's state, so its end
/// waits for it (or cancels it) and stages again what an unsynced write would have freed.
/// </summary>
internal abstract class BlockingEndDriver<TWork> : JobDriver<TWork>
    where TWork : PageWork
{
    private static readonly TimeSpan OrphanWait = TimeSpan.FromSeconds(30);

    private protected BlockingEndDriver(JobKind kind, PageHandler handler, JobContext context, Akka.Actor.IActorRef job)
        : base(kind, handler, context, job)
    {
    }

    /// <inheritdoc />
    internal override bool End()
    {
        if (Running is not { } orphan)
        {
            return false;
        }

        if (orphan.CancelOrWait(OrphanWait))
        {
            RestoreUnsynced(orphan);
            return false;
        }

        // Its sync may still succeed and free what a restore would stage again: leave it, and keep
        // the driver among the ended ones so the memory it reads is not freed under it.
        Log.Error("{0}: a page worker is still running the work of a job that died", Kind);
        return true;
    }

    /// <summary>Stages again what <paramref name="work"/> would have freed after a sync it did not get to do successfully; returns those pages.</summary>
    private protected virtual long RestoreUnsynced(TWork work) => 0;
}
