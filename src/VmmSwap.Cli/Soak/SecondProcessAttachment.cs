using Akka.Actor;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// Attaches and detaches the second process: at most one at a time. An attach starts the child,
/// takes its userfaultfd and sends ProcessForked; the child starts reading only if that was
/// accepted, and is sent away untouched if it was refused (a refusal is not a loss). A detach lets
/// it exit or SIGKILLs it; either way the runtime is left to notice that its userfaultfd is dead.
/// </summary>
public sealed class SecondProcessAttachment : IAsyncDisposable
{
    private readonly SoakGuest _guest;
    private readonly int _seed;
    private readonly SwapController _swap;
    private readonly SoakCounters _counters;
    private volatile SecondProcess? _current;
    private SecondProcess? _reportedHung;

    /// <summary>Attachments of second processes of <paramref name="guest"/> to the runtime behind <paramref name="swap"/>.</summary>
    public SecondProcessAttachment(SoakGuest guest, int seed, SwapController swap, SoakCounters counters)
    {
        _guest = guest ?? throw new ArgumentNullException(nameof(guest));
        _seed = seed;
        _swap = swap ?? throw new ArgumentNullException(nameof(swap));
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
    }

    /// <summary>The attached second process, reading; null when none is.</summary>
    public SecondProcess? Current => _current;

    /// <summary>Starts a second process and hands its userfaultfd over; true when it was accepted and the child now reads.</summary>
    public async Task<bool> AttachAsync()
    {
        if (_current is not null)
        {
            return true;
        }

        SecondProcess child;
        Userfaultfd uffd;
        try
        {
            child = await SecondProcess.StartAsync(_guest.SharedRegions, _seed, OnMismatch).ConfigureAwait(false);
        }
        catch (SecondProcessException e)
        {
            _counters.Error(SoakErrorKind.SecondProcess, e.Message);
            return false;
        }

        try
        {
            uffd = child.TakeUffd();
        }
        catch (NativeCallException e)
        {
            _counters.Error(SoakErrorKind.SecondProcess, $"could not take the second process's userfaultfd: {e.Message}");
            child.Dispose();
            return false;
        }

        bool accepted;
        SwapState state;
        try
        {
            var reply = await _swap.ProcessForkedAsync(uffd).ConfigureAwait(false);
            (accepted, state) = (reply.Outcome == CommandOutcome.Accepted, reply.Status.State);
            _counters.Command(CommandKind.ProcessForked, accepted ? CommandResult.Accepted : CommandResult.Ignored);
        }
        catch (SwapCommandException e)
        {
            (accepted, state) = (false, e.Reply.Status.State);
            _counters.Command(CommandKind.ProcessForked, CommandResult.Failed, e.Reply.Reason);
        }
        catch (AskTimeoutException)
        {
            _counters.Command(CommandKind.ProcessForked, CommandResult.Hung);
            _counters.Hang(HangKind.Command, "ProcessForked got no reply", SoakDeadlines.Deadline);
            await child.KillAsync().ConfigureAwait(false);
            child.Dispose();
            return false;
        }

        _counters.Attach(accepted, state);
        if (!accepted)
        {
            // It never touched guest memory; it goes as it came.
            await DetachAsync(child, kill: false).ConfigureAwait(false);
            return false;
        }

        // A second process detached before its first pass would check nothing: on a loaded host
        // every one of a short soak's was, once, and the soak said a second process read no page.
        child.Go();
        _current = child;
        await child.FirstPassAsync(SoakDeadlines.Deadline).ConfigureAwait(false);
        return true;
    }

    /// <summary>Detaches the second process, if one is attached: SIGKILL when <paramref name="kill"/>, else told to exit.</summary>
    public async Task DetachAsync(bool kill)
    {
        if (_current is { } child)
        {
            _current = null;
            await DetachAsync(child, kill).ConfigureAwait(false);
            _counters.PageChecked(CheckedBy.SecondProcess, child.Reads);
            _counters.Detached(kill);
        }
    }

    /// <summary>
    /// Called by the watchdog: a hang, reported once, when the attached child has reported no
    /// progress for longer than the deadline. It is left to the detach, which kills it.
    /// </summary>
    public void Watch()
    {
        if (_current is { } child && child.SinceProgress > SoakDeadlines.Deadline && !ReferenceEquals(child, _reportedHung))
        {
            _reportedHung = child;
            _counters.Hang(HangKind.SecondProcess, $"second process {child.Pid} made no progress for {child.SinceProgress.TotalSeconds:F0} s (its reader waits in {child.WaitChannel})", SoakDeadlines.Deadline);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await DetachAsync(kill: true).ConfigureAwait(false);

    private async Task DetachAsync(SecondProcess child, bool kill)
    {
        if (kill)
        {
            await child.KillAsync().ConfigureAwait(false);
        }
        else if (!await child.ExitAsync(SoakDeadlines.Deadline).ConfigureAwait(false))
        {
            _counters.Hang(HangKind.SecondProcess, $"second process {child.Pid} did not exit when told (its reader waits in {child.WaitChannel})", SoakDeadlines.Deadline);
        }

        child.Dispose();
    }

    private void OnMismatch(long page, ulong actual) =>
        _counters.PageLost(PageChecker.Describe(_seed, page, CheckedBy.SecondProcess, _counters.Cycle, 0, expectedZeros: false, actual));
}
