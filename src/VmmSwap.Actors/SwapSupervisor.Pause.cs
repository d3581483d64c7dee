using Akka.Actor;
using Akka.Event;

namespace VmmSwap.Actors;

/// <summary>
/// The host's guest paused around an Enable's move, through its <see cref="IGuestPause"/>
/// (docs/ARCHITECTURE.md, "The state machine"): a guest write between a page's copy to staging
/// and the hole punched behind it would be lost.
/// </summary>
public sealed partial class SwapSupervisor
{
    private static readonly TimeSpan PauseTimeout = TimeSpan.FromSeconds(30);

    private readonly IGuestPause? _pause;

    // Set from the moment a pause is asked for (it may have half happened when it fails) until
    // Resume: the guest is never left paused, also when the runtime stops.
    private bool _resumeOwed;

    private void PauseGuestThenEnable(IActorRef replyTo)
    {
        if (_pause is null)
        {
            BeginEnable(replyTo);
            return;
        }

        _log.Info("enabling vmm-swap: pausing the guest first");
        _resumeOwed = true;
        PauseAsync(_pause).PipeTo(Self, success: () => GuestPaused.Instance, failure: e => new GuestPauseFailed(e));
        Become(() => Pausing(replyTo));
    }

    // Transient, before Freezing and Enabling: nothing has moved yet, so a guest that could not
    // be paused leaves swap in the state it was in.
    private void Pausing(IActorRef replyTo)
    {
        var before = _state;
        Receive<GuestPaused>(_ => BeginEnable(replyTo));
        Receive<GuestPauseFailed>(m =>
        {
            ResumeGuest();
            var reason = $"the guest could not be paused for the move to staging: {m.Error.GetBaseException().Message}";
            _log.Warning("Enable refused: {0}", reason);
            Become(BehaviourOf(before));
            Reply(replyTo, nameof(SwapCommand.Enable), CommandOutcome.Failed, reason);
            Stash.UnstashAll();
        });
        Receive<SwapCommand.Enable>(m => Reply(m, CommandOutcome.Failed, "Enable is already in progress"));
        Receive<UffdGone>(UffdGone);
        ReceiveAny(_ => Stash.Stash());
    }

    private void ResumeGuest()
    {
        if (!_resumeOwed)
        {
            return;
        }

        _resumeOwed = false;
        try
        {
            _pause!.Resume();
        }
        catch (Exception e)
        {
            _log.Error(e, "the host's guest could not be resumed after the move to staging");
        }
    }

    private Action BehaviourOf(SwapState state) => state switch
    {
        SwapState.Pending => Pending,
        SwapState.Active => Active,
        SwapState.Failed => () => Failed(stopping: null),
        _ => Ready,
    };

    // A host's PauseAsync that throws before its first await, or never completes, is a failed pause too.
    private static async Task PauseAsync(IGuestPause pause)
    {
        using var timeout = new CancellationTokenSource(PauseTimeout);
        await Task.Run(() => pause.PauseAsync(timeout.Token), timeout.Token).WaitAsync(PauseTimeout).ConfigureAwait(false);
    }
}
