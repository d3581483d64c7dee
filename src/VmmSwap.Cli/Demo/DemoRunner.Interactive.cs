using System.Globalization;
using VmmSwap.Actors;
using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Demo;

/// <summary>The demo driven from outside (<c>--interactive</c>): the phases follow the states a person causes through the control socket.</summary>
public sealed partial class DemoRunner
{
    /// <summary>Where the interactive demo says what it waits for (stderr for a person; nothing by default).</summary>
    public TextWriter Prompts { get; init; } = TextWriter.Null;

    // Waits for the state changes another terminal's commands cause and answers each as the script
    // would: Pending runs the guest briefly (faults from staging), Active runs it idle (faults from
    // the file); Ready after an enable means a disable (or an exit) has brought every page back,
    // and a stopped runtime means an exit has: then the pages are verified. The guest is paused in
    // between; an enable that comes while it runs has the runtime pause it first (DemoGuestPause).
    private async Task FollowRemoteCommandsAsync(GuestMemory guest, GuestWorkload workload, CancellationToken interrupt)
    {
        var options = _setup.Options;
        var socket = options.ControlSocket;

        // A device process (tools/device-process) maps the guest through this process's memfds.
        var regions = string.Join(' ', guest.Regions.Select(r => string.Create(CultureInfo.InvariantCulture, $"/proc/{Environment.ProcessId}/fd/{r.MemFd.Value}:{r.MemFdOffset}:{r.Size}")));
        await Prompts.WriteLineAsync($"vmm-swap demo: a device process can attach with: device_process {socket} {regions}").ConfigureAwait(false);
        await Prompts.WriteLineAsync($"vmm-swap demo: the guest is paused; waiting for commands on {socket}. From another terminal: vmm-swap enable {socket}, then status, trim, out, prefetch, disable {socket}; every page is verified once disable (or a client's exit) has brought them back (Ctrl-C ends the demo early).").ConfigureAwait(false);
        var last = SwapState.Ready;
        var enabled = false;
        while (!interrupt.IsCancellationRequested)
        {
            // Stopped (a client sent exit): every page is back, and no command can come any more.
            if (await StatusOrStoppedAsync().ConfigureAwait(false) is not { } status)
            {
                return;
            }

            if (status.State != last)
            {
                last = status.State;
                await Prompts.WriteLineAsync($"vmm-swap demo: vmm-swap is {status.State}").ConfigureAwait(false);
                switch (status.State)
                {
                    case SwapState.Pending:
                        if (!enabled)
                        {
                            enabled = true;
                            workload.SwapEnabled();
                        }

                        await RunPhaseAsync(PhaseNames.Enable, status.StateTransition.Pages, showRate: true, _ => Task.FromResult(status.StateTransition.Pages)).ConfigureAwait(false);
                        await GuestRunAsync(workload, PhaseNames.GuestRun, options.ShortRun, ShortRunSlice, interrupt).ConfigureAwait(false);
                        await PausedAsync(socket).ConfigureAwait(false);
                        break;
                    case SwapState.Active:
                        await GuestRunAsync(workload, PhaseNames.GuestIdle, options.IdleRun, 1.0, interrupt).ConfigureAwait(false);
                        await PausedAsync(socket).ConfigureAwait(false);
                        break;
                    case SwapState.Ready when enabled:
                        await RunPhaseAsync(PhaseNames.Disable, status.StateTransition.Pages, showRate: true, _ => Task.FromResult(status.StateTransition.Pages)).ConfigureAwait(false);
                        return;
                    case SwapState.Failed:
                        _report.Error ??= $"vmm-swap failed: {status.Error}";
                        return;
                }
            }

            try
            {
                await Task.Delay(PollInterval, interrupt).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        Continue(interrupt, "interactive");
    }

    // The status, or null once the runtime has stopped: a control client's exit stops it after
    // swapping every page back in, as a host's Exit would, so the demo goes on to verify them
    // (which finds out if they are not all back) instead of failing for want of a status.
    private async Task<SwapStatus?> StatusOrStoppedAsync()
    {
        try
        {
            return await _swap.StatusAsync().ConfigureAwait(false);
        }
        catch (SwapRuntimeStoppedException)
        {
            if (!_report.RuntimeStopped)
            {
                _report.RuntimeStopped = true;
                await Prompts.WriteLineAsync("vmm-swap demo: the vmm-swap runtime has stopped (a client sent exit, which swaps every page back in first); verifying every page").ConfigureAwait(false);
            }

            return null;
        }
    }

    private Task PausedAsync(string? socket) => Prompts.WriteLineAsync($"vmm-swap demo: the guest is paused; waiting for commands on {socket}");
}
