using Akka.Actor;
using VmmSwap.Core;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// A <see cref="JobDriver"/> whose work is all of one type: it dispatches and completes
/// <typeparamref name="TWork"/>, so no driver decides what its work was by testing its type.
/// </summary>
internal abstract class JobDriver<TWork> : JobDriver
    where TWork : PageWork
{
    private protected JobDriver(JobKind kind, PageHandler handler, JobContext context, IActorRef job)
        : base(kind, handler, context, job)
    {
    }

    /// <summary>The first work in flight, as dispatched; null when none.</summary>
    private protected TWork? Running => InFlight.Count > 0 ? (TWork)InFlight[0] : null;

    private protected void Dispatch(TWork work) => DispatchWork(work);

    private protected abstract void Completed(TWork work, Exception? error);

    // Only Dispatch(TWork) puts work in flight, so what comes back is a TWork.
    private protected sealed override void Completed(PageWork work, Exception? error) => Completed((TWork)work, error);
}
