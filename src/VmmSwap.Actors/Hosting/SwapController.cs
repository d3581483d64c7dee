using Akka.Actor;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// A typed async facade over a <see cref="SwapSupervisor"/>, for hosts that do not want raw
/// messages. A failed command throws <see cref="SwapCommandException"/> with the cause; a command
/// not valid in the current state returns its reply with <see cref="CommandOutcome.Ignored"/>.
/// </summary>
public sealed class SwapController
{
    // A reply sent just before the supervisor stopped (Exit's) may reach the asker after the
    // termination is seen; it gets this long to arrive.
    private static readonly TimeSpan ReplyGrace = TimeSpan.FromSeconds(2);

    private readonly TimeSpan _timeout;
    private readonly Task<bool> _stopped;

    /// <summary>Wraps an existing supervisor.</summary>
    public SwapController(IActorRef supervisor, TimeSpan? timeout = null)
    {
        Supervisor = supervisor ?? throw new ArgumentNullException(nameof(supervisor));
        _timeout = timeout ?? TimeSpan.FromMinutes(5);
        _stopped = Supervisor.WatchAsync();
    }

    /// <summary>The supervisor this controller drives.</summary>
    public IActorRef Supervisor { get; }

    /// <summary>
    /// Starts a supervisor for <paramref name="guest"/> in <paramref name="system"/>. The main
    /// userfaultfd is opened here, so a host without userfaultfd access gets
    /// <see cref="UserfaultfdUnavailableException"/> naming the fix before any actor starts; a swap
    /// directory that cannot hold the swap file gets <see cref="SwapDirectoryUnusableException"/>.
    /// When <paramref name="system"/> shuts down, the supervisor exits (every page swapped back in)
    /// before it terminates, for up to <see cref="VmmSwapOptions.ShutdownTimeout"/>. The system's
    /// config must include <see cref="VmmSwapConfig.For"/> (dispatchers, mailbox, that phase's
    /// timeout); without it this throws <see cref="InvalidOperationException"/>. Several guests in
    /// one system, by id, are <see cref="VmmSwapGuests"/>'s. With <paramref name="pause"/>, every
    /// Enable pauses the host's vCPUs through it for the move to staging (<see cref="IGuestPause"/>).
    /// </summary>
    public static SwapController Start(ActorSystem system, GuestMemory guest, VmmSwapOptions? options = null, string name = "vmm-swap", IGuestPause? pause = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(guest);
        options = (options ?? VmmSwapOptions.FromConfig(system.Settings.Config)).Validated();
        var supervisor = SupervisorStarter.Start(system, guest, options, name, pause: pause);
        ExitOnShutdown.Register(system, supervisor, options);
        return new SwapController(supervisor);
    }

    /// <summary>Moves guest memory to staging; completes when staging is complete. The guest must not run meanwhile: give the runtime an <see cref="IGuestPause"/>, or pause it around this call.</summary>
    public Task<CommandReply> EnableAsync(CancellationToken cancellationToken = default) => SendAsync(SwapCommand.Enable.Instance, cancellationToken);

    /// <summary>Starts a trim of staging.</summary>
    public Task<CommandReply> TrimAsync(CancellationToken cancellationToken = default) => SendAsync(SwapCommand.Trim.Instance, cancellationToken);

    /// <summary>Starts writing staging to the swap file.</summary>
    public Task<CommandReply> SwapOutAsync(CancellationToken cancellationToken = default) => SendAsync(SwapCommand.SwapOut.Instance, cancellationToken);

    /// <summary>Starts bringing every page back.</summary>
    public Task<CommandReply> DisableAsync(CancellationToken cancellationToken = default) => SendAsync(SwapCommand.Disable.Instance, cancellationToken);

    /// <summary>Starts bringing the working set back while swap stays enabled (see <see cref="SwapCommand.Prefetch"/>).</summary>
    public Task<CommandReply> PrefetchAsync(CancellationToken cancellationToken = default) => SendAsync(SwapCommand.Prefetch.Instance, cancellationToken);

    /// <summary>Hands a forked child's userfaultfd to the runtime; while enabled it is registered at once (see <see cref="SwapCommand.ProcessForked"/>).</summary>
    public Task<CommandReply> ProcessForkedAsync(Userfaultfd uffd, CancellationToken cancellationToken = default) => SendAsync(new SwapCommand.ProcessForked(uffd), cancellationToken);

    /// <summary>Attaches a device process that maps the guest at <paramref name="regionAddresses"/> (see <see cref="SwapCommand.AttachProcess"/>).</summary>
    public Task<CommandReply> AttachProcessAsync(Userfaultfd uffd, int pid, IReadOnlyList<nint> regionAddresses, bool freeze, CancellationToken cancellationToken = default) =>
        SendAsync(new SwapCommand.AttachProcess(uffd, pid, regionAddresses, freeze), cancellationToken);

    /// <summary>Detaches the device process attached as <paramref name="pid"/> (see <see cref="SwapCommand.DetachProcess"/>).</summary>
    public Task<CommandReply> DetachProcessAsync(int pid, CancellationToken cancellationToken = default) => SendAsync(new SwapCommand.DetachProcess(pid), cancellationToken);

    /// <summary>
    /// Swaps everything in if enabled, then stops the supervisor; completes once it has stopped,
    /// so every command after it throws <see cref="SwapRuntimeStoppedException"/>.
    /// </summary>
    public async Task<CommandReply> ExitAsync(CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(SwapCommand.Exit.Instance, cancellationToken).ConfigureAwait(false);

        // The reply leaves before the supervisor stops (its status worker sends what it still
        // holds first); a command sent in between would be answered by a runtime about to stop.
        await _stopped.WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
        return reply;
    }

    /// <summary>The current status.</summary>
    public Task<SwapStatus> StatusAsync(CancellationToken cancellationToken = default) =>
        AskAsync<SwapStatus>(SwapCommand.Status.Instance, nameof(SwapCommand.Status), _timeout, cancellationToken);

    /// <summary>
    /// Completes with the status once <paramref name="state"/> is reached, or once vmm-swap fails
    /// (the status then says Failed and why). Throws <see cref="TimeoutException"/> naming the
    /// current state if neither happens within <paramref name="deadline"/>.
    /// </summary>
    public async Task<SwapStatus> WaitForStateAsync(SwapState state, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        try
        {
            return await AskAsync<SwapStatus>(new AwaitState(state), nameof(AwaitState), deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            var status = await StatusAsync(cancellationToken).ConfigureAwait(false);
            throw new TimeoutException($"vmm-swap did not reach {state} within {deadline.TotalSeconds} s; it is {status.State}{(status.Error is null ? string.Empty : $" ({status.Error})")}");
        }
    }

    private async Task<CommandReply> SendAsync(SwapCommand command, CancellationToken cancellationToken)
    {
        var reply = await AskAsync<CommandReply>(command, command.Name, _timeout, cancellationToken).ConfigureAwait(false);
        return reply.Outcome == CommandOutcome.Failed ? throw new SwapCommandException(reply) : reply;
    }

    // An Ask to a stopped actor would wait out its whole timeout: a stopped runtime is said at once.
    private async Task<T> AskAsync<T>(object message, string name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_stopped.IsCompleted)
        {
            throw new SwapRuntimeStoppedException(name);
        }

        var ask = Supervisor.Ask<T>(message, timeout, cancellationToken);
        if (await Task.WhenAny(ask, _stopped).ConfigureAwait(false) != ask
            && await Task.WhenAny(ask, Task.Delay(ReplyGrace, cancellationToken)).ConfigureAwait(false) != ask)
        {
            throw new SwapRuntimeStoppedException(name);
        }

        return await ask.ConfigureAwait(false);
    }
}
