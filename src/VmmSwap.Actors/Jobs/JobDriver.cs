using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Workers;
using VmmSwap.Core;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// Drives one job's chunks on the PageHandler actor's thread (docs/ARCHITECTURE.md, "Jobs"):
/// plans page work, hands it to a page worker (one piece in flight at a time, a swap-in's reads
/// ahead excepted: <see cref="InFlight"/>) and completes it when it answers, replying
/// <see cref="ChunkDone"/> to the job. Trim, swap-out and swap-in differ only in what they plan
/// and how they complete it.
/// </summary>
internal abstract class JobDriver
{
    private readonly IActorRef _pool;
    private readonly IActorRef _self;
    private readonly List<PageWork> _inFlight = [];

    private protected JobDriver(JobKind kind, PageHandler handler, JobContext context, IActorRef job)
    {
        Kind = kind;
        Handler = handler;
        Options = context.Options;
        Log = context.Log;
        _pool = context.Pool;
        _self = context.Self;
        Job = job;
    }

    /// <summary>The kind of job driven.</summary>
    internal JobKind Kind { get; }

    /// <summary>The job actor this driver answers; a chunk asked by another job needs a new driver.</summary>
    internal IActorRef Job { get; }

    /// <summary>The work page workers run for this job now, in the order it was dispatched.</summary>
    internal IReadOnlyList<PageWork> InFlight => _inFlight;

    private protected PageHandler Handler { get; }

    private protected VmmSwapOptions Options { get; }

    private protected ILoggingAdapter Log { get; }

    private protected IActorRef Self => _self;

    /// <summary>Runs the job's next chunk.</summary>
    internal void RunChunk() => Guarded(0, Chunk);

    /// <summary>The work in flight answered (<paramref name="error"/> null when it ran).</summary>
    internal void WorkDone(PageWork work, Exception? error)
    {
        _inFlight.Remove(work);
        Guarded(0, () => Completed(work, error));
    }

    /// <summary>
    /// Work of this ended job answered; true once none is left, when what it used may go
    /// (<see cref="Abandoned"/>).
    /// </summary>
    internal bool WorkAbandoned(PageWork work)
    {
        _inFlight.Remove(work);
        if (_inFlight.Count > 0)
        {
            return false;
        }

        Abandoned();
        return true;
    }

    /// <summary>
    /// The job is over (finished, aborted or dead). True when its work still runs and must answer
    /// (then <see cref="Abandoned"/>) before what it uses may go.
    /// </summary>
    internal abstract bool End();

    /// <summary>All work of an ended job answered, or was cancelled: what it used may go now.</summary>
    internal virtual void Abandoned()
    {
    }

    private protected abstract void Chunk();

    private protected abstract void Completed(PageWork work, Exception? error);

    private protected void DispatchWork(PageWork work)
    {
        _inFlight.Add(work);
        _pool.Tell(new ExecuteWork(work), _self);
    }

    private protected void Reply(long pages, bool finished, SwapFailure? failure) => Job.Tell(new ChunkDone(Kind, pages, finished, failure));

    // The page state must survive any single failure: a chunk that throws fails the job, not the actor.
    private protected void Guarded(long pages, Action step)
    {
        try
        {
            step();
        }
        catch (Exception error)
        {
            Reply(pages, false, SwapFailure.From(error, $"{Kind} chunk failed"));
        }
    }
}
