using System.Diagnostics;
using Akka.Actor;
using VmmSwap.Actors.FaultPath;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// A trim, swap-out or swap-in run: asks the PageHandler for one chunk at a time, reports progress
/// to the supervisor after each, stops on <see cref="AbortJob"/> once its chunk in flight answers,
/// and ends with <see cref="JobCompleted"/>. The three jobs differ only in the chunk they ask for,
/// so one actor type serves all three.
/// </summary>
internal sealed class ChunkJob : ReceiveActor
{
    private readonly JobKind _kind;
    private readonly IActorRef _pageHandler;
    private readonly IActorRef _supervisor;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _held;
    private long _pages;
    private bool _inFlight;
    private bool _abort;

    public ChunkJob(JobKind kind, IActorRef pageHandler, IActorRef supervisor, bool startHeld)
    {
        _kind = kind;
        _pageHandler = pageHandler;
        _supervisor = supervisor;
        _held = startHeld;
        Receive<ChunkDone>(Handle);
        Receive<AbortJob>(_ =>
        {
            _abort = true;
            if (!_inFlight)
            {
                Complete(null, aborted: true);
            }
        });
        Receive<GateReleased>(_ =>
        {
            if (!_abort)
            {
                RequestChunk();
            }
        });
    }

    public static Props Props(JobKind kind, IActorRef pageHandler, IActorRef supervisor, bool startHeld) =>
        Akka.Actor.Props.Create(() => new ChunkJob(kind, pageHandler, supervisor, startHeld));

    protected override void PreStart()
    {
        // A held job (a supervisor given a JobStartGate) waits for the gate's GateReleased.
        if (!_held)
        {
            RequestChunk();
        }
    }

    private void Handle(ChunkDone m)
    {
        _inFlight = false;
        if (m.Error is not null)
        {
            Complete(m.Error, aborted: false);
            return;
        }

        _pages += m.Pages;
        _supervisor.Tell(new JobProgress(_kind, _pages, _clock.Elapsed));
        if (m.Finished || _abort)
        {
            Complete(null, aborted: !m.Finished);
        }
        else
        {
            RequestChunk();
        }
    }

    private void RequestChunk()
    {
        _inFlight = true;
        _pageHandler.Tell(new RunChunk(_kind));
    }

    private void Complete(SwapFailure? error, bool aborted)
    {
        _pageHandler.Tell(new EndJob(_kind));
        _supervisor.Tell(new JobCompleted(_kind, _pages, _clock.Elapsed, error, aborted));
        Context.Stop(Self);
    }
}
