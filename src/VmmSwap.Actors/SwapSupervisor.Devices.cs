using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Devices;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Core.Guest;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors;

/// <summary>
/// The supervisor's device processes (<see cref="SwapCommand.AttachProcess"/>,
/// <see cref="SwapCommand.DetachProcess"/>, a process's exit) and the Freezing that comes before an
/// Enable's move when some were attached with freeze (docs/ARCHITECTURE.md, "Freezing device processes").
/// </summary>
public sealed partial class SwapSupervisor
{
    // How long Enable waits for frozen device processes to stop, and how often it looks.
    private static readonly TimeSpan FreezeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan FreezePoll = TimeSpan.FromMilliseconds(1);

    // Transient, before Enabling: SIGSTOP went to the device processes attached with freeze, and
    // nothing but /proc says when every thread has stopped, so it is looked at until then. A
    // process that will not stop in time (a thread held in the kernel) is logged, and the move
    // goes on: such a thread cannot write either while it is held.
    private void Freezing(IActorRef replyTo, DateTime deadline)
    {
        Receive<CheckFrozen>(_ =>
        {
            if (_processes.AllFrozen())
            {
                MoveToStaging(replyTo);
            }
            else if (DateTime.UtcNow > deadline)
            {
                _log.Warning("{0} did not stop within {1} s; moving memory anyway", _processes.StillRunning(), FreezeTimeout.TotalSeconds);
                MoveToStaging(replyTo);
            }
            else
            {
                Timers.StartSingleTimer(nameof(CheckFrozen), CheckFrozen.Instance, FreezePoll);
            }
        });
        Receive<SwapCommand.Enable>(m => Reply(m, CommandOutcome.Failed, "Enable is already in progress"));
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    // A device process: its uffd checked as a forked child's, its pid opened (so its exit is
    // seen and it can be frozen), its layout checked against the guest; the PageHandler registers.
    private void Attach(SwapCommand.AttachProcess m)
    {
        string? refusal = null;
        GuestLayout? layout = null;
        Pidfd? pidfd = null;
        try
        {
            m.Uffd.Validate();
            if (_processes.WithPid(m.Pid) is not null)
            {
                refusal = $"pid {m.Pid} is already attached";
            }
            else if ((m.Freeze ? _processes.FreezeRefusal(m.Pid) : null) is { } notInCgroup)
            {
                refusal = notInCgroup;
            }
            else
            {
                layout = GuestLayout.Of(_guest.Regions, m.RegionAddresses);
                pidfd = Pidfd.Open(m.Pid);
            }
        }
        catch (Exception e) when (e is InvalidUserfaultfdException or ArgumentException or NativeCallException or CgroupException)
        {
            refusal = e.Message;
        }

        if (refusal is not null || pidfd is null)
        {
            m.Uffd.Dispose();
            Reply(m, CommandOutcome.Failed, refusal ?? "the process cannot be opened");
            return;
        }

        _processes.Add(new AttachedProcess(m.Uffd, pidfd, m.Freeze));
        _pageHandler.Tell(new AttachUffd(m.Uffd, layout, Sender, m.Name));
    }

    private void Attached(UffdAttached m)
    {
        var process = _processes.Of(m.Uffd);
        if (m.Error is null)
        {
            _uffds.Add(m.Uffd);
            _pump.Tell(new WatchUffd(m.Uffd));
            if (process is not null)
            {
                process.State = AttachmentState.Attached;
                _pump.Tell(new WatchProcess(process.Pidfd, m.Uffd));
            }

            Reply(m.ReplyTo, m.Command, CommandOutcome.Accepted, null);
        }
        else
        {
            _processes.Remove(m.Uffd)?.Pidfd.Dispose();
            m.Uffd.Dispose();
            Reply(m.ReplyTo, m.Command, CommandOutcome.Failed, m.Error);
        }
    }

    private void Detach(SwapCommand.DetachProcess m)
    {
        if (_processes.WithPid(m.Pid) is { State: AttachmentState.Attached } process)
        {
            BeginDetach(process, Sender);
        }
        else
        {
            Reply(m, CommandOutcome.Failed, $"pid {m.Pid} is not attached");
        }
    }

    private void BeginDetach(AttachedProcess process, IActorRef replyTo)
    {
        process.State = AttachmentState.Detaching;
        _pageHandler.Tell(new DetachUffd(process.Uffd, replyTo));
    }

    private void Detached(UffdDetached m)
    {
        _uffds.Remove(m.Uffd);
        _pump.Tell(new UnwatchUffd(m.Uffd));
        if (_processes.Remove(m.Uffd) is { } process)
        {
            _pump.Tell(new UnwatchProcess(process.Pidfd));
            _log.Info("device process {0} detached", process.Pid);
        }

        if (m.Error is not null)
        {
            _log.Warning("detaching a device process: unregister failed: {0}", m.Error.Message);
        }

        if (!m.ReplyTo.IsNobody())
        {
            Reply(m.ReplyTo, nameof(SwapCommand.DetachProcess), CommandOutcome.Accepted, null);
        }
    }

    // The commands that hand a process's userfaultfd over or take it back, valid in every state.
    private void Attachments()
    {
        Receive<SwapCommand.ProcessForked>(Attach);
        Receive<SwapCommand.AttachProcess>(Attach);
        Receive<SwapCommand.DetachProcess>(Detach);
    }
}
