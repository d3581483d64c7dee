using Akka.Actor;
using Akka.Event;
using Akka.Routing;
using VmmSwap.Actors.Devices;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Jobs;
using VmmSwap.Actors.Metrics;
using VmmSwap.Actors.Workers;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Work;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors;

/// <summary>
/// One per guest: the vmm-swap state machine, following crosvm's monitor loop. Each state is a
/// behaviour whose data (the running job, who waits for a reply) are its parameters; every command
/// is answered in every state. Replies carry a status the status worker completes with the
/// counters the PageHandler publishes, so no reply passes through the fault thread and no Ask is
/// needed anywhere.
/// </summary>
/// <remarks>
/// The state x command table (docs/ARCHITECTURE.md, "The state machine"); "abort" means: the
/// running job is told to stop, the command is stashed, and it is replayed with its own sender in
/// the state the job leaves behind (Pending after trim, Active after swap-out or swap-in).
/// <code>
///                    Enable        Trim      SwapOut   Disable          Exit                ProcessForked
/// Ready              move->Pending ignored   ignored   ignored          stop                check, keep
/// Pending            re-stage      trim job  swap-out  swap-in job      swap-in, then stop  register
/// TrimInProgress     abort         ignored   ignored   abort            abort               register
/// SwapOutInProgress  abort         ignored   ignored   abort            abort               register
/// Active             re-stage      ignored   ignored   swap-in job      swap-in, then stop  register
/// SwapInInProgress   abort         ignored   ignored   accepted (runs)  stop when done      register
/// Failed             re-stage      ignored   ignored   swap-in job      swap-in, then stop  register
/// </code>
/// Prefetch (with working-set-first on) starts a prefetch job in Pending and Active and is ignored
/// elsewhere; while it runs (PrefetchRunning) the state stays, Enable, Disable, Exit (and, in
/// Pending, Trim and SwapOut) abort it first, and a second Prefetch is answered as under way.
/// AttachProcess and DetachProcess are valid where ProcessForked is. An Enable with device
/// processes attached with freeze first stops them (Freezing: commands and Status wait) and
/// resumes them once the move is over, done or failed; before that, a host's guest started with
/// an <see cref="IGuestPause"/> is paused through it (Pausing: commands and Status wait; a failed
/// pause refuses the Enable) and resumed the same way.
/// While Enable moves pages (Enabling), commands and Status wait; a second Enable fails. While a
/// job aborts or Disable unregisters (Disabling), commands wait and Status is answered; an Exit
/// stops the supervisor once the status worker has sent every reply it holds (Stopping). One file
/// for all the behaviours, past the usual length, so that the table above and the code that
/// implements each of its cells read together; device processes and Freezing are in
/// SwapSupervisor.Devices.cs, Prefetch in SwapSupervisor.Prefetch.cs, Pausing in SwapSupervisor.Pause.cs.
/// </remarks>
public sealed partial class SwapSupervisor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private readonly GuestMemory _guest;
    private readonly VmmSwapOptions _options;
    private readonly JobStartGate? _jobGate;
    private readonly FaultReadGate? _readGate;
    private readonly List<Userfaultfd> _uffds = [];
    private readonly List<(SwapState State, IActorRef ReplyTo)> _stateWaiters = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _pageHandler = ActorRefs.Nobody;
    private IActorRef _pump = ActorRefs.Nobody;
    private IActorRef _pool = ActorRefs.Nobody;
    private IActorRef _faultReaders = ActorRefs.Nobody;

    // The fault thread's io_uring for fault reads; null when off or refused. Used on the fault
    // thread only; closed here, after the PageHandler has ended its reads.
    private FaultReadRing? _faultReadRing;
    private IActorRef _statusWorker = ActorRefs.Nobody;
    private readonly PublishedCounters _counters = new();
    private readonly GuestMetrics _metrics;
    private readonly AttachedProcesses _processes;

    // What Status reports: the state, the last transition and, in Failed, its cause.
    private SwapState _state = SwapState.Ready;
    private StateTransition _transition = StateTransition.Empty;
    private SwapFailure? _failure;

    /// <summary>Creates the supervisor for <paramref name="guest"/>; <paramref name="mainUffd"/> becomes the runtime's.</summary>
    public SwapSupervisor(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options)
        : this(guest, mainUffd, options, FreezerOf(options), null, null, null)
    {
    }

    // Jobs of a supervisor given a gate wait for it before their first chunk (tests hold a job's
    // InProgress state with it; no message of the protocol does); its fault reads wait for a read
    // gate the same way (tests hold a fault parked with it).
    internal SwapSupervisor(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options, CgroupFreezer? freezer, JobStartGate? jobGate, IGuestPause? pause, FaultReadGate? readGate)
    {
        _readGate = readGate;
        _guest = guest;
        _pause = pause;
        _options = options;
        _jobGate = jobGate;
        _uffds.Add(mainUffd);
        _processes = new AttachedProcesses(_log, freezer);
        _metrics = new GuestMetrics(Self.Path.Name, _counters, guest);
        Become(Ready);
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Props for a supervisor of <paramref name="guest"/>. The freeze cgroup of the options, if
    /// any, is opened here: one that is no cgroup v2 directory throws
    /// <see cref="CgroupException"/> to the host starting the runtime.
    /// </summary>
    /// <remarks>Every Enable pauses the host's guest through <paramref name="pause"/> first, when given (<see cref="IGuestPause"/>).</remarks>
    public static Props Props(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options, IGuestPause? pause = null) =>
        Akka.Actor.Props.CreateBy(new Producer(guest, mainUffd, options.Validated(), FreezerOf(options), null, pause, null));

    /// <summary>
    /// Props for a supervisor whose jobs wait for <paramref name="jobGate"/> before their first
    /// chunk, and whose fault reads wait for <paramref name="readGate"/> before they start (tests only).
    /// </summary>
    internal static Props Props(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options, JobStartGate? jobGate, IGuestPause? pause, FaultReadGate? readGate) =>
        Akka.Actor.Props.CreateBy(new Producer(guest, mainUffd, options.Validated(), FreezerOf(options), jobGate, pause, readGate));

    private static CgroupFreezer? FreezerOf(VmmSwapOptions options) =>
        string.IsNullOrEmpty(options.FreezeCgroup) ? null : CgroupFreezer.Open(options.FreezeCgroup);

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(error =>
    {
        // The PageHandler holds pages that exist nowhere else: never restart it, keep its state
        // (the pump and the workers alike). A job is stopped; its state sees it end and fails.
        if (Sender.Equals(_pageHandler) || Sender.Equals(_pump) || Sender.Equals(_statusWorker) || Sender.Equals(_pool) || Sender.Equals(_faultReaders))
        {
            _log.Error(error, "child {0} failed; resuming it with its state", Sender.Path.Name);
            return Directive.Resume;
        }

        return Directive.Stop;
    });

    /// <inheritdoc />
    protected override void PreStart()
    {
        _pool = Context.ActorOf(PageWorker.Props(_options.PageWorkerNice).WithRouter(new RoundRobinPool(_options.ResolvedPageWorkerCount)), "page-workers");
        _statusWorker = Context.ActorOf(PageWorker.Props(_options.PageWorkerNice), "status-worker");
        _faultReaders = Context.ActorOf(FaultReader.Props(_readGate).WithRouter(new SmallestMailboxPool(_options.FaultReaders)), "fault-readers");
        _faultReadRing = _options.FaultReadsIoUring ? OpenFaultReadRing() : null;
        var reads = new FaultReadStarter(_faultReadRing, _faultReaders, _readGate);
        _pageHandler = Context.ActorOf(PageHandlerActor.Props(_guest, _options, Self, _pool, reads, _counters, _metrics), "page-handler");
        _pump = Context.ActorOf(FaultPump.Props(_pageHandler), "fault-pump");
        _pump.Tell(new WatchUffd(_uffds[0]));
        if (_faultReadRing is not null)
        {
            _pump.Tell(new WatchFaultReads(_faultReadRing));
        }
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _metrics.Dispose();
        foreach (var (state, replyTo) in _stateWaiters)
        {
            replyTo.Tell(new Status.Failure(new InvalidOperationException($"vmm-swap stopped before reaching {state}")));
        }

        // A runtime stopped while Enable moved memory must not leave its device processes, or the host's guest, stopped.
        _processes.Close();
        ResumeGuest();

        // Children have stopped: the PageHandler has swapped everything in, so the guest may be unregistered.
        foreach (var uffd in _uffds)
        {
            uffd.Dispose();
        }

        _faultReadRing?.Dispose();
    }

    private FaultReadRing? OpenFaultReadRing()
    {
        try
        {
            return FaultReadRing.Create();
        }
        catch (NativeCallException error)
        {
            _log.Warning("fault reads run on the fault readers: the fault thread cannot have an io_uring ({0})", error.Message);
            return null;
        }
    }

    // Akka creates actors through public constructors only; the gated one is internal.
    private sealed class Producer(GuestMemory guest, Userfaultfd mainUffd, VmmSwapOptions options, CgroupFreezer? freezer, JobStartGate? gate, IGuestPause? pause, FaultReadGate? readGate) : IIndirectActorProducer
    {
        public Type ActorType => typeof(SwapSupervisor);

        public ActorBase Produce() => new SwapSupervisor(guest, mainUffd, options, freezer, gate, pause, readGate);

        public void Release(ActorBase actor)
        {
        }
    }

    private void Ready()
    {
        Receive<SwapCommand.Enable>(_ => PauseGuestThenEnable(Sender));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(Ignore);
        Receive<SwapCommand.Prefetch>(Ignore);
        Attachments();
        Receive<SwapCommand.Exit>(_ => Stop([Sender]));
        Common();
    }

    private void Pending()
    {
        Receive<SwapCommand.Enable>(_ => PauseGuestThenEnable(Sender));
        Receive<SwapCommand.Trim>(m => StartJob(m, JobKind.Trim));
        Receive<SwapCommand.SwapOut>(m => StartJob(m, JobKind.SwapOut));
        Receive<SwapCommand.Disable>(m => StartJob(m, JobKind.SwapIn));
        Receive<SwapCommand.Prefetch>(StartPrefetch);
        Receive<SwapCommand.Exit>(_ => StartExit());
        Enabled(null, []);
    }

    // Trim or swap-out running: Enable, Disable and Exit abort it first.
    private void TrimOrSwapOutRunning(RunningJob job)
    {
        Receive<SwapCommand.Enable>(_ => AbortThenReplay(job));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(_ => AbortThenReplay(job));
        Receive<SwapCommand.Prefetch>(Ignore);
        Receive<SwapCommand.Exit>(_ => AbortThenReplay(job));
        Receive<JobCompleted>(m => Sender.Equals(job.Actor), m => JobEnded(job, m, exits: []));
        JobWatched(job);
        Enabled(job, exits: []);
    }

    // Every Exit waits for the swap-in (exits, answered once it is done); Enable aborts it, unless
    // an Exit waits: exiting wins.
    private void SwapInRunning(RunningJob job, IReadOnlyList<IActorRef> exits)
    {
        Receive<SwapCommand.Enable>(m =>
        {
            if (exits.Count == 0)
            {
                AbortThenReplay(job);
            }
            else
            {
                Reply(m, CommandOutcome.Failed, "vmm-swap is exiting: Exit waits for this swap-in");
            }
        });
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(m => Reply(m, CommandOutcome.Accepted, "swap-in is already in progress"));
        Receive<SwapCommand.Prefetch>(Ignore);
        Receive<SwapCommand.Exit>(_ =>
        {
            _log.Info("exit requested: waiting for swap-in to finish");
            Become(() => SwapInRunning(job, [.. exits, Sender]));
        });
        Receive<JobCompleted>(m => Sender.Equals(job.Actor), m => JobEnded(job, m, exits));
        JobWatched(job);
        Enabled(job, exits);
    }

    // Active, and Failed once nothing runs: Enable re-stages, Disable swaps in.
    private void Active()
    {
        Receive<SwapCommand.Enable>(_ => PauseGuestThenEnable(Sender));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Disable>(m => StartJob(m, JobKind.SwapIn));
        Receive<SwapCommand.Prefetch>(m =>
        {
            if (_state == SwapState.Failed)
            {
                Ignore(m);
            }
            else
            {
                StartPrefetch(m);
            }
        });
        Receive<SwapCommand.Exit>(_ => StartExit());
        Enabled(null, []);
    }

    // The job that failed, or that a failed fault stopped, may still be ending (stopping): what
    // starts something waits for it.
    private void Failed(RunningJob? stopping)
    {
        if (stopping is null)
        {
            Active();
            return;
        }

        Receive<SwapCommand.Enable>(_ => AbortThenReplay(stopping));
        Receive<SwapCommand.Trim>(Ignore);
        Receive<SwapCommand.SwapOut>(Ignore);
        Receive<SwapCommand.Prefetch>(Ignore);
        Receive<SwapCommand.Disable>(_ => AbortThenReplay(stopping));
        Receive<SwapCommand.Exit>(_ => AbortThenReplay(stopping));
        Receive<JobCompleted>(m => Sender.Equals(stopping.Actor), m =>
        {
            Context.Unwatch(stopping.Actor);
            _log.Info("{0} stopped after the failure ({1} pages)", m.Kind, m.Pages);
            Become(() => Failed(null));
        });
        JobWatched(stopping);
        Enabled(stopping, []);
    }

    // Transient: the move to staging runs; commands wait, a second Enable fails. Status waits too:
    // the runtime is not Pending until every page is staged, and a host that resumed its guest on
    // an early "Pending" would race the move.
    private void Enabling(IActorRef replyTo)
    {
        Receive<SwapCommand.Enable>(m => Reply(m, CommandOutcome.Failed, "Enable is already in progress"));
        Receive<StagingCompleted>(m => StagingCompleted(m, replyTo));
        Receive<JobProgress>(_ => { });
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // Transient: the job was told to abort; the command that aborted it is stashed with the rest
    // and replayed, with its own sender, once the job has stopped.
    private void Aborting(RunningJob job)
    {
        Receive<JobCompleted>(m => Sender.Equals(job.Actor), m =>
        {
            Context.Unwatch(job.Actor);
            _log.Info("{0} {1} after {2} pages in {3} ms", m.Kind, m.Error is null ? "aborted" : "failed while aborting", m.Pages, (long)m.Elapsed.TotalMilliseconds);
            AbortEnded(job, m.Error);
        });

        // A job that dies without answering the abort still ends it, as a failure (as when no abort runs).
        Receive<Terminated>(m => m.ActorRef.Equals(job.Actor), _ => AbortEnded(job, JobDied(job)));
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<JobProgress>(_ => { });
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // Transient: swap-in is done; regions are being unregistered.
    private void Disabling(IReadOnlyList<IActorRef> exits)
    {
        Receive<SwapDisabled>(m =>
        {
            if (m.Error is not null)
            {
                _log.Error("disable: unregister failed: {0}", m.Error.Message);
            }

            Enter(SwapState.Ready, Ready);
            if (exits.Count > 0)
            {
                Stop([.. exits, .. AnswerStashed()]);
                return;
            }

            Stash.UnstashAll();
        });
        Receive<SwapCommand.Exit>(_ => Become(() => Disabling([.. exits, Sender])));
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // A failed fault fails the runtime and stops the job running (job), answering a waiting Exit.
    private void Enabled(RunningJob? job, IReadOnlyList<IActorRef> exits)
    {
        Attachments();
        Receive<FaultFailed>(m => Fail(m.Failure, job, exits));
        Common();
    }

    // Progress and an unexpected stop of the running job.
    private void JobWatched(RunningJob job)
    {
        Receive<JobProgress>(_ => Sender.Equals(job.Actor), m => _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds));
        Receive<Terminated>(m => m.ActorRef.Equals(job.Actor), _ =>
            Self.Tell(new JobCompleted(job.Kind, _transition.Pages, TimeSpan.FromMilliseconds(_transition.TimeMs), JobDied(job), false), job.Actor));
    }

    // A job stopped without EndJob: the PageHandler must still drop its driver and run its frees.
    private SwapFailure JobDied(RunningJob job)
    {
        _pageHandler.Tell(new EndJob(job.Kind));
        return new SwapFailure(SwapFailureKind.Internal, $"the {job.Kind} job stopped unexpectedly");
    }

    private void Common()
    {
        Receive<SwapCommand.Status>(_ => ReportState());
        Receive<AwaitState>(m =>
        {
            _stateWaiters.Add((m.State, Sender));
            AnswerStateWaiters();
        });
        Receive<UffdGone>(UffdGone);
        Receive<UffdAttached>(Attached);
        Receive<UffdDetached>(Detached);
        Receive<ProcessExited>(m =>
        {
            if (_processes.Of(m.Uffd) is { State: not AttachmentState.Detaching } process)
            {
                _log.Info("device process {0} has exited; detaching it", process.Pid);
                BeginDetach(process, ActorRefs.Nobody);
            }
        });
        Receive<FaultFailed>(m => _log.Warning("a fault failed while disabled: {0}", m.Failure.Message));
        Receive<JobCompleted>(m => _log.Warning("{0} job completed while in state {1}; ignored", m.Kind, _state));
        Receive<JobProgress>(_ => { });
        Receive<Terminated>(_ => { });
    }

    private void BeginEnable(IActorRef replyTo)
    {
        if (_processes.FreezeAll() > 0)
        {
            _log.Info("enabling vmm-swap: freezing device processes first");
            var deadline = DateTime.UtcNow + FreezeTimeout;
            Become(() => Freezing(replyTo, deadline));
            Self.Tell(CheckFrozen.Instance);
            return;
        }

        MoveToStaging(replyTo);
    }

    private void MoveToStaging(IActorRef replyTo)
    {
        _log.Info("enabling vmm-swap: moving guest memory to staging");
        Become(() => Enabling(replyTo));
        _pageHandler.Tell(new StartEnable([.. _uffds]));
    }

    private void StagingCompleted(StagingCompleted m, IActorRef replyTo)
    {
        // Done or failed, the move is over: frozen device processes and the host's guest run again.
        _processes.ResumeAll();
        ResumeGuest();
        if (m.Error is null)
        {
            _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds);
            _metrics.JobCompleted("enable", m.Pages, m.Elapsed);
            Enter(SwapState.Pending, Pending);
            Reply(replyTo, nameof(SwapCommand.Enable), CommandOutcome.Accepted, null);
        }
        else if (m.Enabled)
        {
            // Pages already staged stay where they are; Disable brings them back.
            Fail(m.Error, stopping: null, exits: []);
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

    // Replies Accepted; Exit (exits) is answered only once swap-in is done.
    private void StartJob(SwapCommand? command, JobKind kind, IReadOnlyList<IActorRef>? exits = null)
    {
        _transition = StateTransition.Empty;
        var job = SpawnJob(kind);
        switch (kind)
        {
            case JobKind.Trim:
                Enter(SwapState.TrimInProgress, () => TrimOrSwapOutRunning(job));
                break;
            case JobKind.SwapOut:
                Enter(SwapState.SwapOutInProgress, () => TrimOrSwapOutRunning(job));
                break;
            default:
                Enter(SwapState.SwapInInProgress, () => SwapInRunning(job, exits ?? []));
                break;
        }

        if (command is not null)
        {
            Reply(command, CommandOutcome.Accepted, null);
        }
    }

    private RunningJob SpawnJob(JobKind kind)
    {
        var actor = Context.ActorOf(ChunkJob.Props(kind, _pageHandler, Self, startHeld: _jobGate is not null), $"{kind.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}");
        Context.Watch(actor);
        _jobGate?.Hold(actor);
        return new RunningJob(kind, actor);
    }

    private void StartExit()
    {
        _log.Info("exit requested: swapping every page in first");
        StartJob(null, JobKind.SwapIn, [Sender]);
    }

    // The command in hand is stashed (the stash is empty in every state that runs a job, so it
    // comes back first) and replayed with its own sender once the job has stopped.
    private void AbortThenReplay(RunningJob job)
    {
        _log.Info("aborting {0} first", job.Kind);
        Stash.Stash();
        job.Actor.Tell(AbortJob.Instance);
        Become(() => Aborting(job));
    }

    // A job whose chunk in flight failed before it could stop has failed, not aborted: the host
    // hears of it (Failed, VmmSwapFailed) before the waiting commands go on from there. Already
    // Failed, the first cause stays the one reported.
    private void AbortEnded(RunningJob job, SwapFailure? failure)
    {
        if (failure is not null && _state != SwapState.Failed)
        {
            Fail(failure, stopping: null, exits: []);
            Stash.UnstashAll();
            return;
        }

        if (failure is not null)
        {
            _log.Warning("{0} ended after the failure with another: {1}", job.Kind, failure.Message);
        }

        AfterAbort(job);
    }

    // The behaviour of the state an aborted job leaves (staging still holds every page after a
    // trim; after a swap-out or a swap-in some may be in the file; a failure stays a failure),
    // for the replayed command to move on from. The reported state is left to that command: a
    // waiter for Pending must not hear of it before a replayed Enable has staged every page.
    private void AfterAbort(RunningJob job)
    {
        if (_state == SwapState.Failed)
        {
            Become(() => Failed(null));
        }
        else if (job.Kind == JobKind.Trim || (job.Kind == JobKind.Prefetch && _state == SwapState.Pending))
        {
            Become(Pending);
        }
        else
        {
            Become(Active);
        }

        Stash.UnstashAll();
    }

    private void JobEnded(RunningJob job, JobCompleted m, IReadOnlyList<IActorRef> exits)
    {
        Context.Unwatch(job.Actor);
        _transition = new StateTransition(m.Pages, (long)m.Elapsed.TotalMilliseconds);
        if (m.Error is not null)
        {
            Fail(m.Error, stopping: null, exits);
            return;
        }

        _log.Info("{0} finished: {1} pages in {2} ms", m.Kind, m.Pages, _transition.TimeMs);
        _metrics.JobCompleted(m.Kind switch { JobKind.Trim => "trim", JobKind.SwapOut => "swap_out", JobKind.SwapIn => "swap_in", _ => "prefetch" }, m.Pages, m.Elapsed);
        switch (job.Kind)
        {
            case JobKind.SwapIn:
                Become(() => Disabling(exits));
                _pageHandler.Tell(new FinishDisable([.. _uffds]));
                break;
            case JobKind.Trim:
                Enter(SwapState.Pending, Pending);
                break;
            default:
                Enter(SwapState.Active, Active);
                break;
        }
    }

    // The pages stay where they are; the host decides (Disable brings them back). A job still
    // running is told to stop; Failed waits for it before starting anything else.
    private void Fail(SwapFailure failure, RunningJob? stopping, IReadOnlyList<IActorRef> exits)
    {
        stopping?.Actor.Tell(AbortJob.Instance);
        _transition = StateTransition.Empty;
        _log.Error("vmm-swap failed ({0}): {1}", failure.Kind, failure.Message);
        _failure = failure;
        Enter(SwapState.Failed, () => Failed(stopping));
        Context.System.EventStream.Publish(new VmmSwapFailed(Self, failure));
        foreach (var exit in exits)
        {
            Reply(exit, nameof(SwapCommand.Exit), CommandOutcome.Failed, failure.Message);
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
            _failure = null;
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
                Report(replyTo, null, CommandOutcome.Accepted, null);
            }
        }
    }

    // Exit's replies go through the status worker too, behind the replies it still holds, and
    // the supervisor stops once the worker has sent them all and stopped; what arrives meanwhile
    // is answered (Stopping).
    private void Stop(IReadOnlyList<IActorRef> exits)
    {
        _log.Info("vmm-swap stopping");
        foreach (var exit in exits)
        {
            Report(exit, nameof(SwapCommand.Exit), CommandOutcome.Accepted, null);
        }

        Context.Watch(_statusWorker);
        _statusWorker.Tell(PoisonPill.Instance);
        Become(Stopping);
    }

    // Commands that waited for the Disable an Exit was waiting on: another Exit is answered with
    // it (returned), every other command is refused, and a wait for a state that will never come
    // fails when the supervisor stops (PostStop).
    private List<IActorRef> AnswerStashed()
    {
        var exits = new List<IActorRef>();
        foreach (var envelope in Stash.ClearStash())
        {
            switch (envelope.Message)
            {
                case SwapCommand.Exit:
                    exits.Add(envelope.Sender);
                    break;
                case SwapCommand command:
                    Report(envelope.Sender, command.Name, CommandOutcome.Failed, "vmm-swap is exiting");
                    break;
                case AwaitState wait when wait.State == SwapState.Ready:
                    Report(envelope.Sender, null, CommandOutcome.Accepted, null);
                    break;
                case AwaitState wait:
                    _stateWaiters.Add((wait.State, envelope.Sender));
                    break;
            }
        }

        return exits;
    }

    // Transient: the status worker sends what it holds and stops; then the supervisor stops. It is
    // Ready, so every reply now has zero metrics and needs no worker.
    private void Stopping()
    {
        Receive<Terminated>(m => m.ActorRef.Equals(_statusWorker), _ => Context.Stop(Self));
        Receive<SwapCommand.Exit>(_ => Sender.Tell(StoppedReply(nameof(SwapCommand.Exit), CommandOutcome.Accepted, null)));
        Receive<SwapCommand.Status>(_ => Sender.Tell(StoppedReply(null, CommandOutcome.Accepted, null).Status));
        Receive<SwapCommand>(m => Sender.Tell(StoppedReply(m.Name, CommandOutcome.Failed, "vmm-swap is stopping")));
        Receive<AwaitState>(m =>
        {
            if (m.State == SwapState.Ready)
            {
                Sender.Tell(StoppedReply(null, CommandOutcome.Accepted, null).Status);
            }
            else
            {
                _stateWaiters.Add((m.State, Sender));
            }
        });
        ReceiveAny(_ => { });
    }

    private CommandReply StoppedReply(string? command, CommandOutcome outcome, string? reason) =>
        new(command ?? string.Empty, outcome, reason, new SwapStatus(SwapState.Ready, SwapMetrics.Empty, _transition, _failure));

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

        _pageHandler.Tell(new AttachUffd(m.Uffd, null, Sender, m.Name));
    }

    private void UffdGone(UffdGone m)
    {
        _uffds.Remove(m.Uffd);
        _pump.Tell(new UnwatchUffd(m.Uffd));
        if (_processes.Remove(m.Uffd) is { } process)
        {
            _pump.Tell(new UnwatchProcess(process.Pidfd));
        }
    }

    private void Ignore(SwapCommand command)
    {
        var reason = $"{command.Name} is not valid in state {_state}";
        _log.Warning("{0}; ignored", reason);
        Reply(command, CommandOutcome.Ignored, reason);
    }

    private void Reply(SwapCommand command, CommandOutcome outcome, string? reason) => Reply(Sender, command.Name, outcome, reason);

    private void Reply(IActorRef replyTo, string command, CommandOutcome outcome, string? reason) => Report(replyTo, command, outcome, reason);

    private void ReportState() => Report(Sender, null, CommandOutcome.Accepted, null);

    // Straight to the status worker, never through the fault thread: it adds the counters the
    // PageHandler published (including every fault served before this) and the resident count.
    // One worker, so replies to one asker keep their order. Metrics are zero while disabled.
    private void Report(IActorRef replyTo, string? command, CommandOutcome outcome, string? reason) =>
        _statusWorker.Tell(new CompleteStatus(new ReportStatus(replyTo, _state, _transition, _failure, command, outcome, reason), _counters, _state == SwapState.Ready ? [] : _guest.Regions));
}
