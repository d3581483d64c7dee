using Akka.Event;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Devices;

/// <summary>
/// The supervisor's device processes, by pid and by userfaultfd, and their freezing: SIGSTOP to
/// every one attached with freeze before Enable moves memory, SIGCONT after it (done or failed)
/// and when the runtime stops. A process that exits while frozen is simply gone: a signal to it
/// says so (ESRCH) and nothing else is needed.
/// </summary>
internal sealed class AttachedProcesses(ILoggingAdapter log)
{
    private readonly Dictionary<Userfaultfd, AttachedProcess> _byUffd = [];

    /// <summary>The process attached (or attaching) as <paramref name="pid"/>, or null.</summary>
    internal AttachedProcess? WithPid(int pid) => _byUffd.Values.FirstOrDefault(p => p.Pid == pid && p.State != AttachmentState.Detaching);

    /// <summary>The process of <paramref name="uffd"/>, or null.</summary>
    internal AttachedProcess? Of(Userfaultfd uffd) => _byUffd.GetValueOrDefault(uffd);

    internal void Add(AttachedProcess process) => _byUffd[process.Uffd] = process;

    /// <summary>Forgets the process of <paramref name="uffd"/>, resuming it first if it is frozen; returns it, or null.</summary>
    internal AttachedProcess? Remove(Userfaultfd uffd)
    {
        if (!_byUffd.Remove(uffd, out var process))
        {
            return null;
        }

        Resume(process);
        return process;
    }

    /// <summary>Sends SIGSTOP to every attached process that asked to be frozen; returns how many were sent one.</summary>
    internal int FreezeAll()
    {
        var sent = 0;
        foreach (var process in _byUffd.Values.Where(p => p.Freeze && p.State == AttachmentState.Attached && !p.Frozen))
        {
            try
            {
                if (process.Pidfd.SendSignal(ProcessSignal.Stop))
                {
                    process.Frozen = true;
                    sent++;
                }
            }
            catch (NativeCallException e)
            {
                log.Warning("freezing device process {0} failed: {1}", process.Pid, e.Message);
            }
        }

        return sent;
    }

    /// <summary>True once every process sent SIGSTOP is stopped in every thread, or gone.</summary>
    internal bool AllFrozen() => _byUffd.Values.Where(p => p.Frozen).All(p => ProcessStates.Of(p.Pid) != ProcessRunState.Running);

    /// <summary>The pids sent SIGSTOP that still run a thread.</summary>
    internal IEnumerable<int> StillRunning() => _byUffd.Values.Where(p => p.Frozen && ProcessStates.Of(p.Pid) == ProcessRunState.Running).Select(p => p.Pid);

    /// <summary>Sends SIGCONT to every frozen process.</summary>
    internal void ResumeAll()
    {
        foreach (var process in _byUffd.Values)
        {
            Resume(process);
        }
    }

    /// <summary>Resumes every frozen process and closes every pidfd: the runtime stops.</summary>
    internal void Close()
    {
        foreach (var process in _byUffd.Values)
        {
            Resume(process);
            process.Pidfd.Dispose();
        }

        _byUffd.Clear();
    }

    private void Resume(AttachedProcess process)
    {
        if (!process.Frozen)
        {
            return;
        }

        process.Frozen = false;
        try
        {
            if (!process.Pidfd.SendSignal(ProcessSignal.Continue))
            {
                log.Info("device process {0} exited while frozen", process.Pid);
            }
        }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException)
        {
            log.Warning("resuming device process {0} failed: {1}", process.Pid, e.Message);
        }
    }
}
