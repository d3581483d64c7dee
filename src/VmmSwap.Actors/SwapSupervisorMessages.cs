using Akka.Actor;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors;

/// <summary>
/// A command to the <see cref="SwapSupervisor"/>; every command gets a reply. The commands are
/// nested here, named as crosvm names them, so that <c>SwapCommand.Status</c> never meets Akka's
/// own <c>Status</c>.
/// </summary>
public abstract record SwapCommand
{
    // Only the commands below.
    private protected SwapCommand()
    {
    }

    /// <summary>The command's name, as logged and replied.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>Move every resident guest page to staging; replies when staging is complete. The guest must be paused meanwhile.</summary>
    public sealed record Enable : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Enable Instance { get; } = new();
    }

    /// <summary>Drop zero pages and pages unchanged since their last write to the swap file; replies when accepted.</summary>
    public sealed record Trim : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Trim Instance { get; } = new();
    }

    /// <summary>Write staging to the swap file; replies when accepted.</summary>
    public sealed record SwapOut : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static SwapOut Instance { get; } = new();
    }

    /// <summary>Bring every page back and stop handling faults; replies when accepted.</summary>
    public sealed record Disable : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Disable Instance { get; } = new();
    }

    /// <summary>
    /// Bring the working set (the pages the guest faulted this cycle and the one before) back into
    /// the guest ahead of its waking, while swap stays enabled for the rest; replies when accepted.
    /// Valid in Pending and Active, with <c>working-set-first</c> on. The state stays as it was
    /// while it runs and after; any other command stops it first.
    /// </summary>
    public sealed record Prefetch : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Prefetch Instance { get; } = new();
    }

    /// <summary>Ask for the <see cref="SwapStatus"/>.</summary>
    public sealed record Status : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Status Instance { get; } = new();
    }

    /// <summary>
    /// A child process that may touch guest memory was forked (or attached): its userfaultfd is
    /// checked (open, a userfaultfd, handshaken with the features needed, its process mapping every
    /// guest region at the host's addresses), then watched. While swap is enabled the guest regions
    /// are registered with it at once, before the reply: hand it over before the child touches guest
    /// memory. A refused descriptor is closed and the reply says why.
    /// </summary>
    /// <param name="Uffd">The child's userfaultfd (handshaken), handed over to the runtime.</param>
    public sealed record ProcessForked(Userfaultfd Uffd) : SwapCommand;

    /// <summary>
    /// A device process maps the guest memfds at its own addresses and hands over its userfaultfd:
    /// <see cref="ProcessForked"/> for a process whose layout differs from the host's. The
    /// descriptor is checked as for ProcessForked, the pid opened as a pidfd (so its exit is seen),
    /// and the guest regions registered on the descriptor at <paramref name="RegionAddresses"/>, at
    /// once while swap is enabled (before the reply) or at the next Enable. Its faults are served
    /// into its own mapping. It is detached by <see cref="DetachProcess"/> or when it exits.
    /// A refused descriptor is closed and the reply says why.
    /// </summary>
    /// <param name="Uffd">The process's userfaultfd (handshaken), handed over to the runtime.</param>
    /// <param name="Pid">The process whose address space the userfaultfd serves; one attachment per pid.</param>
    /// <param name="RegionAddresses">Where it maps each guest region, in the guest's region order.</param>
    /// <param name="Freeze">Stop it (SIGSTOP) while Enable moves memory, and resume it after.</param>
    public sealed record AttachProcess(Userfaultfd Uffd, int Pid, IReadOnlyList<nint> RegionAddresses, bool Freeze) : SwapCommand;

    /// <summary>
    /// Detach the process attached as <paramref name="Pid"/>: its ranges are unregistered and its
    /// userfaultfd closed. While swap is enabled it must not touch guest memory afterwards (it
    /// would read holes where pages are staged or swapped out).
    /// </summary>
    /// <param name="Pid">The pid it was attached with.</param>
    public sealed record DetachProcess(int Pid) : SwapCommand;

    /// <summary>Stop: swaps every page back in first if swap is enabled; replies when done.</summary>
    public sealed record Exit : SwapCommand
    {
        /// <summary>The one instance.</summary>
        public static Exit Instance { get; } = new();
    }
}

/// <summary>
/// Ask for the <see cref="SwapStatus"/> once the supervisor is in <paramref name="State"/> (at
/// once if it already is), or once it fails: the reply's state says which. Answered on the
/// transition itself, so waiting costs nothing while a job runs, unlike polling
/// <see cref="SwapCommand.Status"/>. If the supervisor stops first, the asker gets a failure.
/// </summary>
/// <param name="State">The state to wait for.</param>
public sealed record AwaitState(SwapState State);

/// <summary>What became of a command.</summary>
public enum CommandOutcome
{
    /// <summary>Done (Enable, Exit, ProcessForked, AttachProcess, DetachProcess) or accepted and under way in a job (Trim, SwapOut, Disable).</summary>
    Accepted,

    /// <summary>Not valid in the current state: logged as a warning, nothing changed.</summary>
    Ignored,

    /// <summary>Refused or failed; <see cref="CommandReply.Reason"/> says why.</summary>
    Failed,
}

/// <summary>The reply to every command but <see cref="SwapCommand.Status"/>.</summary>
/// <param name="Command">The command's name.</param>
/// <param name="Outcome">What became of it.</param>
/// <param name="Reason">Why it was ignored or failed; null when accepted.</param>
/// <param name="Status">The status after the command took effect.</param>
public sealed record CommandReply(string Command, CommandOutcome Outcome, string? Reason, SwapStatus Status);

/// <summary>The move to staging finished (all batches answered); <paramref name="Enabled"/> tells whether page state exists.</summary>
internal sealed record StagingCompleted(long Pages, TimeSpan Elapsed, SwapFailure? Error, bool Enabled);

/// <summary>A chunk of a job finished: progress for the state transition.</summary>
internal sealed record JobProgress(JobKind Kind, long Pages, TimeSpan Elapsed);

/// <summary>A job ended: done, aborted, or failed with <paramref name="Error"/>. Replaces crosvm's background-job eventfd.</summary>
internal sealed record JobCompleted(JobKind Kind, long Pages, TimeSpan Elapsed, SwapFailure? Error, bool Aborted);

/// <summary>Every region is unregistered and the page state dropped: swap is disabled.</summary>
internal sealed record SwapDisabled(Exception? Error);

/// <summary>A userfaultfd's process has exited, or it could not be registered; it was dropped.</summary>
internal sealed record UffdGone(Userfaultfd Uffd);

/// <summary>The PageHandler took a handed-over userfaultfd (<paramref name="Error"/> null), or refused it: answer <paramref name="ReplyTo"/> for <paramref name="Command"/>.</summary>
internal sealed record UffdAttached(Userfaultfd Uffd, IActorRef ReplyTo, string Command, string? Error);

/// <summary>The PageHandler dropped a detached userfaultfd (an unregister that failed in <paramref name="Error"/>); answer <paramref name="ReplyTo"/> unless it is Nobody.</summary>
internal sealed record UffdDetached(Userfaultfd Uffd, IActorRef ReplyTo, Exception? Error);

/// <summary>The process of an attached userfaultfd has exited (its pidfd became readable).</summary>
internal sealed record ProcessExited(Userfaultfd Uffd);

/// <summary>A fault could not be served; its waiter is parked until the page state allows (see docs/RELIABILITY.md).</summary>
internal sealed record FaultFailed(SwapFailure Failure);

/// <summary>Look whether every device process sent SIGSTOP has stopped (Freezing).</summary>
internal sealed record CheckFrozen
{
    internal static CheckFrozen Instance { get; } = new();
}

/// <summary>The host's guest is paused (<see cref="IGuestPause.PauseAsync"/> completed): the move may begin.</summary>
internal sealed record GuestPaused
{
    internal static readonly GuestPaused Instance = new();
}

/// <summary>The host's guest could not be paused: the Enable is refused.</summary>
internal sealed record GuestPauseFailed(Exception Error);
