using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Work;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// Watches every userfaultfd of the guest from the fault pump thread and hands each drained batch
/// of events to the PageHandler, and tells it when its io_uring has completed fault reads. Must
/// run on <see cref="VmmSwapConfig.FaultPumpDispatcher"/>. Closes a userfaultfd it drops (its
/// process is gone); the rest are closed by the supervisor after the PageHandler has stopped,
/// since closing one unregisters the guest.
/// </summary>
internal sealed class FaultPump : ReceiveActor
{
    /// <summary>Events per batch: a long queue is served in turns with the other userfaultfds and background work.</summary>
    internal const int MaxBatch = 256;
    private readonly IActorRef _pageHandler;
    private readonly Dictionary<Userfaultfd, ulong> _tokens = [];
    private readonly Dictionary<Pidfd, ulong> _processTokens = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private FaultPumpExecutor? _executor;
    private (FaultReadRing Ring, ulong Token)? _faultReads;

    public FaultPump(IActorRef pageHandler)
    {
        _pageHandler = pageHandler;
        Receive<WatchUffd>(m =>
        {
            // Drain runs outside message processing, where Self is not available.
            var self = Self;
            _tokens[m.Uffd] = Executor.Watch(m.Uffd.Fd, () => Drain(m.Uffd, self));
        });
        Receive<UnwatchUffd>(m =>
        {
            Unwatch(m.Uffd);
            m.Uffd.Dispose();
        });
        Receive<WatchProcess>(m =>
        {
            var supervisor = Context.Parent;
            var executor = Executor;
            ulong token = 0;
            token = executor.Watch(m.Pidfd.Fd, () =>
            {
                // Readable once, for good: one message, then the watch goes.
                _processTokens.Remove(m.Pidfd);
                executor.Unwatch(token, m.Pidfd.Fd);
                supervisor.Tell(new ProcessExited(m.Uffd));
            });
            _processTokens[m.Pidfd] = token;
        });
        Receive<UnwatchProcess>(m =>
        {
            if (_processTokens.Remove(m.Pidfd, out var token))
            {
                Executor.Unwatch(token, m.Pidfd.Fd);
            }

            m.Pidfd.Dispose();
        });
        Receive<WatchFaultReads>(m =>
        {
            // Cleared here, before the PageHandler reaps: a completion after this signals again.
            var ring = m.Ring;
            _faultReads = (ring, Executor.Watch(ring.CompletionFd, () =>
            {
                ring.ClearCompletionSignal();
                _pageHandler.Tell(FaultReadsCompleted.Instance);
            }));
        });
        Receive<DrainFailed>(m =>
        {
            // Dropped like the userfaultfd of a process that is gone; the supervisor closes it.
            _log.Error(m.Error, "reading userfaultfd {0} events failed; dropping it", m.Uffd.Fd.Value);
            Unwatch(m.Uffd);
            Context.Parent.Tell(new UffdGone(m.Uffd));
        });
    }

    public static Props Props(IActorRef pageHandler) =>
        Akka.Actor.Props.Create(() => new FaultPump(pageHandler)).WithDispatcher(VmmSwapConfig.FaultPumpDispatcher);

    private FaultPumpExecutor Executor => _executor ??= FaultPumpExecutor.Current
        ?? throw new InvalidOperationException($"the FaultPump must run on the {VmmSwapConfig.FaultPumpDispatcher} dispatcher");

    protected override void PostStop()
    {
        foreach (var uffd in _tokens.Keys.ToList())
        {
            Unwatch(uffd);
        }

        foreach (var (pidfd, token) in _processTokens)
        {
            Executor.Unwatch(token, pidfd.Fd);
        }

        _processTokens.Clear();
        if (_faultReads is var (ring, ringToken))
        {
            Executor.Unwatch(ringToken, ring.CompletionFd);
        }
    }

    private void Unwatch(Userfaultfd uffd)
    {
        if (_tokens.Remove(uffd, out var token))
        {
            Executor.Unwatch(token, uffd.Fd);
        }
    }

    // Runs on the pump thread outside message processing: one message per drain, in the order read.
    private void Drain(Userfaultfd uffd, IActorRef self)
    {
        try
        {
            if (uffd.Drain(MaxBatch) is { Length: > 0 } events)
            {
                _pageHandler.Tell(new UffdEventBatch(uffd, events));
            }
        }
        catch (Exception e)
        {
            self.Tell(new DrainFailed(uffd, e));
        }
    }
}
