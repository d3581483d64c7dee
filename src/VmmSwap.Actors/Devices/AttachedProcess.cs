using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Devices;

/// <summary>
/// A device process attached with <see cref="SwapCommand.AttachProcess"/>: its userfaultfd, a
/// pidfd on it (whose readiness says it has exited, and through which it is signalled), and
/// whether it is frozen while Enable moves memory. Owned by the supervisor.
/// </summary>
internal sealed class AttachedProcess(Userfaultfd uffd, Pidfd pidfd, bool freeze)
{
    internal Userfaultfd Uffd { get; } = uffd;

    internal Pidfd Pidfd { get; } = pidfd;

    internal int Pid => Pidfd.Pid;

    internal bool Freeze { get; } = freeze;

    /// <summary>Where it is in its life: waiting for the page handler's answer, attached, or being detached.</summary>
    internal AttachmentState State { get; set; } = AttachmentState.Attaching;

    /// <summary>SIGSTOP was sent and no SIGCONT since.</summary>
    internal bool Frozen { get; set; }
}
