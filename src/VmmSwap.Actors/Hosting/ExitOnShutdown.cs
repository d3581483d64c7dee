using System.Diagnostics;
using Akka;
using Akka.Actor;
using Akka.Event;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// Stops a supervisor the orderly way when its actor system shuts down: <see cref="SwapCommand.Exit"/> (the
/// chunked swap-in, faults served meanwhile), then its stop, in coordinated shutdown's
/// <see cref="Phase"/>, before any actor is stopped. Left to the actor system's termination, the
/// PageHandler's last-resort swap-in would run inside the actor-system-terminate phase, whose
/// 10 s a large guest does not fit in, and pages still out when that phase gives up are lost.
/// </summary>
internal static class ExitOnShutdown
{
    /// <summary>The last phase before the actor system terminates: the host's services (and so its guest) have stopped.</summary>
    internal const string Phase = CoordinatedShutdown.PhaseBeforeActorSystemTerminate;

    /// <summary>Adds the task that exits <paramref name="supervisor"/> to <paramref name="system"/>'s coordinated shutdown.</summary>
    internal static void Register(ActorSystem system, IActorRef supervisor, VmmSwapOptions options)
    {
        WarnIfPhaseIsShorter(system, options);
        CoordinatedShutdown.Get(system).AddTask(Phase, $"vmm-swap-exit-{supervisor.Path.Name}", () => ExitAsync(system, supervisor, options.ShutdownTimeout));
    }

    /// <summary>Logs a warning when <see cref="Phase"/>'s timeout would cut off a swap-in <paramref name="options"/> allow more time.</summary>
    internal static void WarnIfPhaseIsShorter(ActorSystem system, VmmSwapOptions options)
    {
        var phaseTimeout = CoordinatedShutdown.Get(system).Timeout(Phase);
        if (phaseTimeout < options.ShutdownTimeout)
        {
            Logging.GetLogger(system, typeof(ExitOnShutdown)).Warning(
                "akka.coordinated-shutdown.phases.{0}.timeout ({1}) is shorter than vmm-swap.shutdown-timeout ({2}): a swap-in at shutdown is cut off at {1}; set both",
                Phase,
                phaseTimeout,
                options.ShutdownTimeout);
        }
    }

    /// <summary>
    /// Exits <paramref name="supervisor"/> and waits for it and its children to stop, for up to
    /// <paramref name="timeout"/>; logs the outcome and never throws, as a shutdown task must.
    /// </summary>
    internal static async Task<Done> ExitAsync(ActorSystem system, IActorRef supervisor, TimeSpan timeout)
    {
        var log = Logging.GetLogger(system, typeof(ExitOnShutdown));
        var clock = Stopwatch.StartNew();
        log.Info("the actor system is shutting down: stopping vmm-swap ({0}) first, waiting up to {1}", supervisor.Path.Name, timeout);
        using var deadline = new CancellationTokenSource(timeout);
        bool stopped;
        try
        {
            stopped = await ExitAndStopAsync(supervisor, log, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            stopped = false;
        }
        finally
        {
            // Releases an ask a supervisor that was already stopping will never answer.
            await deadline.CancelAsync().ConfigureAwait(false);
        }

        if (stopped)
        {
            log.Info("vmm-swap ({0}) stopped after {1} ms; the actor system terminates", supervisor.Path.Name, clock.ElapsedMilliseconds);
        }
        else
        {
            log.Error("vmm-swap ({0}) did not stop within vmm-swap.shutdown-timeout ({1}): the actor system terminates now, and pages still outside the guest get only the PageHandler's last attempt within actor-system-terminate's timeout", supervisor.Path.Name, timeout);
        }

        return Done.Instance;
    }

    // True once the supervisor and all its children have stopped, false if the deadline came first.
    private static async Task<bool> ExitAndStopAsync(IActorRef supervisor, ILoggingAdapter log, CancellationToken deadline)
    {
        // Terminated comes only after every child has stopped: a page worker may still be closing
        // the swap file (freeing a large file's blocks takes seconds).
        var stopped = supervisor.WatchAsync(deadline);

        // A supervisor already exiting answers nothing more; there is only its stop to wait for.
        var status = supervisor.Ask<SwapStatus>(SwapCommand.Status.Instance, deadline);
        if (await Task.WhenAny(stopped, status).ConfigureAwait(false) == status)
        {
            var metrics = (await status.ConfigureAwait(false)).Metrics;
            var outside = metrics.StagingPages + metrics.SwapPages;
            if (outside > 0)
            {
                log.Info("waiting for the swap-in of {0} pages ({1} in staging, {2} in the swap file) before the actor system terminates", outside, metrics.StagingPages, metrics.SwapPages);
            }

            var exit = supervisor.Ask<CommandReply>(SwapCommand.Exit.Instance, deadline);
            if (await Task.WhenAny(stopped, exit).ConfigureAwait(false) == exit && await exit.ConfigureAwait(false) is { Outcome: CommandOutcome.Failed } failed)
            {
                // Failed and still running: stopped here, its PageHandler makes the last attempt
                // within this phase's timeout rather than within actor-system-terminate's.
                log.Error("vmm-swap could not swap every page back in at shutdown ({0}); stopping it", failed.Reason);
                supervisor.Tell(PoisonPill.Instance);
            }
        }

        return await stopped.ConfigureAwait(false);
    }
}
