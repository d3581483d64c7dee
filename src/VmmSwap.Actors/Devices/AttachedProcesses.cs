using Akka.Event;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Devices;

/// <summary>
/// The supervisor's device processes, by pid and by userfaultfd, and their freezing: SIGSTOP to
/// every one attached with freeze before Enable moves memory, SIGCONT after it (done or failed)
/// and when the runtime stops. A process that exits while frozen is simply gone: a signal to it
/// says so (ESRCH) and nothing else is needed. Given a cgroup, the cgroup v2 freezer of that
/// cgroup is used instead (every process attached with freeze is in it): frozen when one of them
/// is attached, thawed at the same points; a process that exits while frozen just leaves it.
/// </summary>
internal sealed class AttachedProcesses(ILoggingAdapter log, CgroupFreezer? cgroup)
{
    private readonly Dictionary<Userfaultfd, AttachedProcess> _byUffd = [];

    // The cgroup was frozen and not thawed since.
    private bool _cgroupFrozen;

    /// <summary>Why process <paramref name="pid"/> cannot be attached with freeze, or null when it can.</summary>
    internal string? FreezeRefusal(int pid) =>
        cgroup is null || cgroup.Contains(pid)
            ? null
            : $"pid {pid} is not in the freeze cgroup {cgroup.Directory} (vmm-swap.freeze-cgroup): write it to {Path.Combine(cgroup.Directory, "cgroup.procs")} before attaching it with freeze";

    /// <summary>The process attached (or attaching) as <paramref name="pid"/>, or null.</summary>
    internal AttachedProcess? WithPid(int pid) => _byUffd.Values.FirstOrDefault(p => p.Pid == pid && p.State != AttachmentState.Detaching);

    /// <summary>The process of <paramref name="uffd"/>, or null.</summary>
    internal AttachedProcess? Of(Userfaultfd uffd) => _byUffd.GetValueOrDefault(uffd);

    internal void Add(AttachedProcess process) => _byUffd[process.Uffd] = process;

    /// <summary>
    /// Forgets the process of <paramref name="uffd"/>, resuming it first if it was sent SIGSTOP
    /// (a frozen cgroup thaws only as a whole, when the move ends); returns it, or null.
    /// </summary>
    internal AttachedProcess? Remove(Userfaultfd uffd)
    {
        if (!_byUffd.Remove(uffd, out var process))
        {
            return null;
        }

        Resume(process);
        return process;
    }

    /// <summary>
    /// Sends SIGSTOP to every attached process that asked to be frozen, or freezes the cgroup when
    /// one did; returns how many were sent one (1 for the cgroup).
    /// </summary>
    internal int FreezeAll()
    {
        if (cgroup is not null)
        {
            return FreezeCgroup();
        }

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

    /// <summary>True once every process sent SIGSTOP is stopped in every thread, or gone; or once the kernel reports the cgroup frozen.</summary>
    internal bool AllFrozen() => cgroup is null
        ? _byUffd.Values.Where(p => p.Frozen).All(p => ProcessStates.Of(p.Pid) != ProcessRunState.Running)
        : !_cgroupFrozen || CgroupReportsFrozen();

    /// <summary>What has not stopped yet: the pids sent SIGSTOP that still run a thread, or the cgroup.</summary>
    internal string StillRunning() => cgroup is null
        ? "device processes " + string.Join(", ", _byUffd.Values.Where(p => p.Frozen && ProcessStates.Of(p.Pid) == ProcessRunState.Running).Select(p => p.Pid))
        : $"the device processes of cgroup {cgroup.Directory}";

    /// <summary>Sends SIGCONT to every frozen process, or thaws the cgroup.</summary>
    internal void ResumeAll()
    {
        ThawCgroup();
        foreach (var process in _byUffd.Values)
        {
            Resume(process);
        }
    }

    /// <summary>Resumes every frozen process and closes every pidfd: the runtime stops.</summary>
    internal void Close()
    {
        ThawCgroup();
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

    private int FreezeCgroup()
    {
        if (_cgroupFrozen || !_byUffd.Values.Any(p => p.Freeze && p.State == AttachmentState.Attached))
        {
            return 0;
        }

        try
        {
            cgroup!.Freeze();
            _cgroupFrozen = true;
            return 1;
        }
        catch (CgroupException e)
        {
            log.Warning("freezing device processes failed: {0}", e.Message);
            return 0;
        }
    }

    // A cgroup.events that cannot be read will not say more later: the move goes on, as after the timeout.
    private bool CgroupReportsFrozen()
    {
        try
        {
            return cgroup!.IsFrozen;
        }
        catch (CgroupException e)
        {
            log.Warning("reading whether device processes are frozen failed: {0}", e.Message);
            return true;
        }
    }

    private void ThawCgroup()
    {
        if (!_cgroupFrozen)
        {
            return;
        }

        _cgroupFrozen = false;
        try
        {
            cgroup!.Thaw();
        }
        catch (CgroupException e)
        {
            log.Warning("thawing device processes failed: {0}", e.Message);
        }
    }
}
