using Akka.Actor;
using Akka.Event;
using Akka.Routing;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Native;

namespace VmmSwap.Actors;

/// <summary>
/// One per guest: the vmm-swap state machine. Each state is a behaviour; every command is answered
/// in every state, following crosvm's monitor loop: Enable while trimming or swapping in aborts that
/// job first, Disable aborts trim or swap-out and starts swap-in, Exit swaps everything in before
/// stopping, a fork while enabled is refused. Replies are built by the PageHandler actor, which
/// owns the metrics, so no Ask is needed anywhere.
/// </summary>
public sealed class SwapSupervisor : ReceiveActor, IWithUnboundedStash
{
    private readonly GuestMemory _guest;
    private readonly VmmSwapOptions _options;
    private readonly List<Userfaultfd> _uffds = [];
    private readonly List<(SwapState State, IActorRef ReplyTo)> _stateWaiters = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _pageHandler = ActorRefs.Nobody;
    private IActorRef _pump = ActorRefs.Nobody;
    private IActorRef? _job;
    private JobKind _jobKind;
    private SwapState _state = SwapState.Ready;
    private StateTransition _transition = StateTransition.Empty;
    private string? _error;
    private IActorRef? _enableReplyTo;
    private IActorRef? _exitReplyTo;
    private Action? _afterAbort;

    // The sender of the command a deferred continuation (after an abort) is acting for.
    private IActorRef? _replySender;

    /// <summary>Creates the supervisor for <paramref name="guest"/>; <paramref name="mainUffd"/> becomes the runtime's.</summary>
    public SwapSupervisor(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options)
    {
        _guest = guest;
        _options = options;
        _uffds.Add(mainUffd);
        Become(Ready);
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props for a supervisor of <paramref name="guest"/>.</summary>
    public static Props Props(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options) =>
        Akka.Actor.Props.Create(() => new SwapSupervisor(guest, mainUffd, options.Validated()));

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(error =>
    {
        // The PageHandler holds pages that exist nowhere else: never restart it, keep its state.
        // Jobs are stopped; the supervisor sees them end and moves to Failed.
        if (Sender.Equals(_job))
        {
            return Directive.Stop;
        }

        _log.Error(error, "child {0} failed; resuming it with its state", Sender.Path.Name);
        return Directive.Resume;
    });

    /// <inheritdoc />
    protected override void PreStart()
    {
        var pool = Context.ActorOf(PageWorker.Props(_options.PageWorkerNice).WithRouter(new RoundRobinPool(_options.ResolvedPageWorkerCount)), "page-workers");
        var statusWorker = Context.ActorOf(PageWorker.Props(_options.PageWorkerNice), "status-worker");
        _pageHandler = Context.ActorOf(PageHandlerActor.Props(_guest, _options, Self, pool, statusWorker), "page-handler");
        _pump = Context.ActorOf(FaultPump.Props(_pageHandler), "fault-pump");
        _pump.Tell(new WatchUffd(_uffds[0]));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        foreach (var (state, replyTo) in _stateWaiters)
        {
            replyTo.Tell(new Status.Failure(new InvalidOperationException($"vmm-swap stopped before reaching {state}")));
        }

        // Children have stopped: the PageHandler has swapped everything in, so the guest may be unregistered.
        foreach (var uffd in _uffds)
        {
            uffd.Dispose();
        }
    }

    private void Ready()
    {
        Receive<SwapCommand.Enable>(_ => BeginEnable());
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(Ignore);
        Receive<SwapCommand.ProcessForked>(Attach);
        Receive<SwapCommand.Exit>(_ => Stop(Sender));
        Common();
    }

    private void Pending()
    {
        Receive<SwapCommand.Enable>(_ => BeginEnable());
        Receive<SwapCommand.Trim>(m => StartJob(m, JobKind.Trim, SwapState.TrimInProgress));
        Receive<SwapCommand.SwapOut>(m => StartJob(m, JobKind.SwapOut, SwapState.SwapOutInProgress));
        Receive<SwapCommand.Disable>(m => StartJob(m, JobKind.SwapIn, SwapState.SwapInInProgress));
        Receive<SwapCommand.Exit>(StartExit);
        Enabled();
    }

    private void TrimInProgress() => JobRunning(SwapState.Pending);

    private void SwapOutInProgress() => JobRunning(SwapState.Active);

    // Trim or swap-out running: Enable and Disable abort it first; it ends in whenDone.
    private void JobRunning(SwapState whenDone)
    {
        Receive<SwapCommand.Enable>(_ => AbortThen(BeginEnable));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(m => AbortThen(() => StartJob(m, JobKind.SwapIn, SwapState.SwapInInProgress)));
        Receive<SwapCommand.Exit>(m => AbortThen(() => StartExit(m)));
        Receive<JobCompleted>(m => JobEnded(m, whenDone));
        Enabled();
    }

    // Active and Failed answer alike: Enable re-stages, Disable swaps in. No job runs in Active;
    // in Failed one may still be stopping after the failure that ended it, and what starts
    // something waits for it (AbortThen goes on at once when no job runs).
    private void Active()
    {
        Receive<SwapCommand.Enable>(_ => AbortThen(BeginEnable));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(m => AbortThen(() => StartJob(m, JobKind.SwapIn, SwapState.SwapInInProgress)));
        Receive<SwapCommand.Exit>(m => AbortThen(() => StartExit(m)));
        Enabled();
    }

    private void SwapInInProgress()
    {
        Receive<SwapCommand.Enable>(_ => AbortThen(BeginEnable));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(m => Reply(m, CommandOutcome.Accepted, "swap-in is already in progress"));
        Receive<SwapCommand.Exit>(m =>
        {
            _log.Info("exit requested: waiting for swap-in to finish");
            _exitReplyTo = Sender;
        });
        Receive<JobCompleted>(m => JobEnded(m, SwapState.Ready));
        Enabled();
    }

    private void Failed()
    {
        Receive<JobCompleted>(m =>
        {
            if (_job is not null && m.Kind == _jobKind)
            {
                Context.Unwatch(_job);
                _job = null;
                _log.Info("{0} stopped after the failure ({1} pages)", m.Kind, m.Pages);
            }
        });
        Active();
    }

    // Transient: the move to staging runs; commands wait, a second Enable is refused. Status
    // waits too: the runtime is not Pending until every page is staged, and a host that resumed
    // its guest on an early "Pending" would race the move.
    private void Enabling()
    {
        Receive<SwapCommand.Enable>(m => Reply(m, CommandOutcome.Failed, "Enable is already in progress"));
        Receive<StagingCompleted>(StagingCompleted);
        Receive<JobProgress>(_ => { });
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // Transient: a job was told to abort; commands wait until it has stopped.
    private void Aborting()
    {
        Receive<JobCompleted>(m =>
        {
            _job = null;
            var next = _afterAbort!;
            _afterAbort = null;
            _log.Info("{0} aborted after {1} pages in {2} ms", m.Kind, m.Pages, (long)m.Elapsed.TotalMilliseconds);
            Stash.UnstashAll();
            next();
        });

        // A job that dies without answering the abort still ends the abort.
        Receive<Terminated>(m => JobDied(m.ActorRef));
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<JobProgress>(_ => { });
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // Transient: swap-in is done; regions are being unregistered.
    private void Disabling()
    {
        Receive<SwapDisabled>(m =>
        {
            if (m.Error is not null)
            {
                _log.Error("disable: {0}", m.Error);
            }

            Enter(SwapState.Ready, Ready);
            Stash.UnstashAll();
            if (_exitReplyTo is { } exitReplyTo)
            {
                Stop(exitReplyTo);
            }
        });
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    private void Enabled()
    {
        Receive<SwapCommand.ProcessForked>(Attach);
        Receive<FaultFailed>(m =>
        {
            // The pages stay where they are; the host decides (Disable brings them back).
            _job?.Tell(AbortJob.Instance);
            Fail(m.Failure);
        });
        Receive<JobProgress>(m =>
        {
            if (_job is not null && m.Kind == _jobKind)
            {
                _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds);
            }
        });
        Common();
    }

    private void Common()
    {
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<AwaitState>(m =>
        {
            _stateWaiters.Add((m.State, Sender));
            AnswerStateWaiters();
        });
        Receive<ResumeJobs>(m => _job?.Forward(m));
        Receive<UffdGone>(UffdGone);
        Receive<UffdAttached>(m =>
        {
            if (m.Error is null)
            {
                _uffds.Add(m.Uffd);
                _pump.Tell(new WatchUffd(m.Uffd));
                Reply(m.ReplyTo, nameof(SwapCommand.ProcessForked), CommandOutcome.Accepted, null);
            }
            else
            {
                m.Uffd.Dispose();
                Reply(m.ReplyTo, nameof(SwapCommand.ProcessForked), CommandOutcome.Failed, m.Error);
            }
        });
        Receive<FaultFailed>(m => _log.Warning("a fault failed while disabled: {0}", m.Failure.Message));
        Receive<Terminated>(m => JobDied(m.ActorRef));
        Receive<JobCompleted>(m => _log.Warning("{0} job completed while in state {1}; ignored", m.Kind, _state));
    }

    private void JobDied(IActorRef actor)
    {
        if (actor.Equals(_job))
        {
            // It never sent EndJob: the PageHandler must still drop the job's context and frees.
            _pageHandler.Tell(new EndJob(_jobKind));
            Self.Tell(new JobCompleted(_jobKind, _transition.Pages, TimeSpan.FromMilliseconds(_transition.TimeMs), new SwapFailure(SwapFailureKind.Internal, $"the {_jobKind} job stopped unexpectedly"), false));
        }
    }

    private void BeginEnable()
    {
        _enableReplyTo = CurrentSender;
        _log.Info("enabling vmm-swap: moving guest memory to staging");
        Become(Enabling);
        _pageHandler.Tell(new StartEnable([.. _uffds]));
    }

    private void StagingCompleted(StagingCompleted m)
    {
        var replyTo = _enableReplyTo!;
        _enableReplyTo = null;
        if (m.Error is null)
        {
            _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds);
            Enter(SwapState.Pending, Pending);
            Reply(replyTo, nameof(SwapCommand.Enable), CommandOutcome.Accepted, null);
        }
        else if (m.Enabled)
        {
            // Pages already staged stay where they are; Disable brings them back.
            Fail(m.Error);
            Reply(replyTo, nameof(SwapCommand.Enable), CommandOutcome.Failed, m.Error.Message);
        }
        else
        {
            _log.Error("{0}", m.Error.Message);
            Become(Ready);
            Reply(replyTo, nameof(SwapCommand.Enable), CommandOutcome.Failed, m.Error.Message);
        }

        Stash.UnstashAll();
    }

    // Replies Accepted unless the command is Exit, which is answered only once swap-in is done.
    private void StartJob(SwapCommand command, JobKind kind, SwapState state)
    {
        _jobKind = kind;
        _transition = StateTransition.Empty;
        _job = Context.ActorOf(ChunkJob.Props(kind, _pageHandler, Self, _options.StartJobsPaused), $"{kind.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}");
        Context.Watch(_job);
        Enter(state, state switch
        {
            SwapState.TrimInProgress => TrimInProgress,
            SwapState.SwapOutInProgress => SwapOutInProgress,
            _ => SwapInInProgress,
        });
        if (command is not SwapCommand.Exit)
        {
            Reply(command, CommandOutcome.Accepted, null);
        }
    }

    private void StartExit(SwapCommand.Exit m)
    {
        _log.Info("exit requested: swapping every page in first");
        _exitReplyTo = CurrentSender;
        StartJob(m, JobKind.SwapIn, SwapState.SwapInInProgress);
    }

    private void AbortThen(Action next)
    {
        if (_job is null)
        {
            next();
            return;
        }

        var sender = Sender;
        _afterAbort = () => ActAs(sender, next);
        _log.Info("aborting {0} first", _jobKind);
        _job.Tell(AbortJob.Instance);
        Become(Aborting);
    }

    // Runs a deferred continuation with Sender as it was when the command arrived.
    private void ActAs(IActorRef sender, Action next)
    {
        _replySender = sender;
        try
        {
            next();
        }
        finally
        {
            _replySender = null;
        }
    }

    private IActorRef CurrentSender => _replySender ?? Sender;

    private void JobEnded(JobCompleted m, SwapState next)
    {
        Context.Unwatch(_job);
        _job = null;
        _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds);
        if (m.Error is not null)
        {
            Fail(m.Error);
            return;
        }

        _log.Info("{0} finished: {1} pages in {2} ms", m.Kind, m.Pages, _transition.TimeMs);
        if (next == SwapState.Ready)
        {
            Become(Disabling);
            _pageHandler.Tell(new FinishDisable([.. _uffds]));
            return;
        }

        Enter(next, next == SwapState.Pending ? Pending : Active);
    }

    private void Fail(SwapFailure failure)
    {
        _error = failure.Message;
        _transition = StateTransition.Empty;
        _log.Error("vmm-swap failed ({0}): {1}", failure.Kind, failure.Message);
        Enter(SwapState.Failed, Failed);
        Context.System.EventStream.Publish(new VmmSwapFailed(Self, failure));
        if (_exitReplyTo is { } exitReplyTo)
        {
            _exitReplyTo = null;
            Reply(exitReplyTo, nameof(SwapCommand.Exit), CommandOutcome.Failed, failure.Message);
        }
    }

    private void Enter(SwapState state, Action behaviour)
    {
        if (state != _state)
        {
            _log.Info("vmm-swap {0} -> {1} ({2} pages, {3} ms)", _state, state, _transition.Pages, _transition.TimeMs);
        }

        _state = state;
        if (state != SwapState.Failed)
        {
            _error = null;
        }

        Become(behaviour);
        AnswerStateWaiters();
    }

    private void AnswerStateWaiters()
    {
        for (var i = _stateWaiters.Count - 1; i >= 0; i--)
        {
            var (state, replyTo) = _stateWaiters[i];
            if (state == _state || _state == SwapState.Failed)
            {
                _stateWaiters.RemoveAt(i);
                _pageHandler.Tell(new ReportStatus(replyTo, _state, _transition, _error, null, CommandOutcome.Accepted, null));
            }
        }
    }

    // Answered here, not through the PageHandler, which stops with this actor; metrics are zero while disabled.
    private void Stop(IActorRef replyTo)
    {
        _log.Info("vmm-swap stopping");
        replyTo.Tell(new CommandReply(nameof(SwapCommand.Exit), CommandOutcome.Accepted, null, new SwapStatus(SwapState.Ready, SwapMetrics.Empty, _transition, _error)));
        Context.Stop(Self);
    }

    // Checked here (open, a handshaken userfaultfd with the features needed); the PageHandler,
    // which owns registration, then checks its process maps the guest and answers UffdAttached.
    private void Attach(SwapCommand.ProcessForked m)
    {
        try
        {
            m.Uffd.Validate();
        }
        catch (InvalidUserfaultfdException e)
        {
            m.Uffd.Dispose();
            Reply(m, CommandOutcome.Failed, e.Message);
            return;
        }

        _pageHandler.Tell(new AttachUffd(m.Uffd, CurrentSender));
    }

    private void UffdGone(UffdGone m)
    {
        _uffds.Remove(m.Uffd);
        _pump.Tell(new UnwatchUffd(m.Uffd));
    }

    private void Ignore(SwapCommand command)
    {
        var reason = $"{command.Name} is not valid in state {_state}";
        _log.Warning("{0}; ignored", reason);
        Reply(command, CommandOutcome.Ignored, reason);
    }

    private void Reply(SwapCommand command, CommandOutcome outcome, string? reason) => Reply(CurrentSender, command.Name, outcome, reason);

    private void Reply(IActorRef replyTo, string command, CommandOutcome outcome, string? reason) =>
        _pageHandler.Tell(new ReportStatus(replyTo, _state, _transition, _error, command, outcome, reason));

    private void ReportState() => _pageHandler.Tell(new ReportStatus(Sender, _state, _transition, _error, null, CommandOutcome.Accepted, null));
}
