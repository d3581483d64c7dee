using Akka.Actor;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// Sends one command and counts what became of it. Enable goes out only once the guest is paused,
/// and the guest resumes when its reply arrives (the runtime's contract: the guest is still while
/// Enable moves memory). A reply that does not come within the deadline is a hang.
/// </summary>
public sealed class CommandSender
{
    private readonly SwapController _swap;
    private readonly GuestGate _gate;
    private readonly SoakCounters _counters;

    /// <summary>A sender over <paramref name="swap"/>, whose own timeout must be the soak's deadline.</summary>
    public CommandSender(SwapController swap, GuestGate gate, SoakCounters counters)
    {
        _swap = swap ?? throw new ArgumentNullException(nameof(swap));
        _gate = gate ?? throw new ArgumentNullException(nameof(gate));
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
    }

    /// <summary>Sends <paramref name="kind"/> (not ProcessForked); returns the status the reply carried, or null when none came.</summary>
    public async Task<SwapStatus?> SendAsync(CommandKind kind)
    {
        if (kind == CommandKind.Enable && !_gate.Pause(SoakDeadlines.Deadline))
        {
            _counters.Hang(HangKind.GuestPause, "a guest thread did not pause for Enable (stuck in an access); Enable not sent", SoakDeadlines.Deadline);
            return null;
        }

        try
        {
            if (kind == CommandKind.Status)
            {
                var status = await _swap.StatusAsync().ConfigureAwait(false);
                _counters.Command(kind, CommandResult.Answered);
                return status;
            }

            var reply = await (kind switch
            {
                CommandKind.Enable => _swap.EnableAsync(),
                CommandKind.Trim => _swap.TrimAsync(),
                CommandKind.SwapOut => _swap.SwapOutAsync(),
                CommandKind.Disable => _swap.DisableAsync(),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "ProcessForked is sent with the second process's userfaultfd"),
            }).ConfigureAwait(false);
            _counters.Command(kind, reply.Outcome == CommandOutcome.Ignored ? CommandResult.Ignored : CommandResult.Accepted);
            return reply.Status;
        }
        catch (SwapCommandException e)
        {
            _counters.Command(kind, CommandResult.Failed, e.Reply.Reason);
            return e.Reply.Status;
        }
        catch (AskTimeoutException)
        {
            _counters.Command(kind, CommandResult.Hung);
            _counters.Hang(HangKind.Command, $"{kind} got no reply", SoakDeadlines.Deadline);
            return null;
        }
        finally
        {
            if (kind == CommandKind.Enable)
            {
                _gate.Resume();
            }
        }
    }

    /// <summary>
    /// Waits until the runtime is in <paramref name="state"/> or Failed and returns its status;
    /// null, counted as a hang, when neither happens within <paramref name="deadline"/>.
    /// </summary>
    public async Task<SwapStatus?> WaitForAsync(SwapState state, TimeSpan deadline)
    {
        try
        {
            return await _swap.WaitForStateAsync(state, deadline).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            _counters.Hang(HangKind.StateWait, e.Message, deadline);
            return null;
        }
        catch (AskTimeoutException)
        {
            _counters.Hang(HangKind.StateWait, $"no reply while waiting for {state}", deadline);
            return null;
        }
    }
}
