using System.Diagnostics;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// Runs the demo's life cycle on real kernel objects: fill a memfd-backed guest, host the runtime,
/// Enable, let the guest fault from staging, Trim, SwapOut, let the guest fault from the file and
/// zero pages, Disable, and verify every page. An interrupt (Ctrl-C) or a runtime failure skips the
/// remaining swap phases, but Disable and verification always run, so the verdict always comes.
/// </summary>
public sealed partial class DemoRunner
{
    // Status polls while a job runs, for the progress bars. Not faster: each Status makes the
    // PageHandler walk the guest memfds for resident pages (SEEK_DATA/SEEK_HOLE) on the fault pump
    // thread, and at 5 ms polls that walk halved swap-out and swap-in throughput.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    // Swap-in of even a large guest from a slow disk takes minutes, not hours.
    private static readonly TimeSpan DisableDeadline = TimeSpan.FromMinutes(30);

    // The first run sweeps half of each vCPU's slice; the idle run sweeps all of it, so the other
    // half faults after swap-out (from the file, or as zero pages after trim).
    private const double ShortRunSlice = 0.5;

    private readonly DemoSetup _setup;
    private readonly IPhaseProgress _progress;
    private readonly Serilog.ILogger _logger;
    private DemoReport _report = null!;
    private CancellationToken _interrupt;
    private SwapController _swap = null!;

    // The runtime pauses the guest through it for every Enable, also one a client sends while it runs.
    private readonly DemoGuestPause _pause = new();

    /// <summary>Creates a runner for <paramref name="setup"/> showing progress on <paramref name="progress"/>.</summary>
    public DemoRunner(DemoSetup setup, IPhaseProgress progress, Serilog.ILogger logger)
    {
        _setup = setup ?? throw new ArgumentNullException(nameof(setup));
        _progress = progress ?? throw new ArgumentNullException(nameof(progress));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <summary>Runs every phase and returns the report. <paramref name="interrupt"/> is Ctrl-C.</summary>
    public async Task<DemoReport> RunAsync(CancellationToken interrupt)
    {
        var options = _setup.Options;
        _report = new DemoReport(_setup);
        _interrupt = interrupt;
        using var guest = GuestMemory.Create(options.RegionSizes());
        using var workload = new GuestWorkload(guest, options, _setup.VcpuKind);

        // Disposed before the guest (reverse order): the runtime must never outlive the memory it
        // serves. Driven by hand, it records the working set, so that prefetch, which the demo's
        // help lists with the other verbs, is served rather than refused.
        await using var runtime = await SwapRuntime.StartAsync(guest, _setup.SwapDirectory, _logger, CancellationToken.None, options.ControlSocket, workingSetFirst: options.Interactive, pause: _pause).ConfigureAwait(false);
        _swap = runtime.Controller;

        await RunPhaseAsync(PhaseNames.Fill, guest.PageCount, showRate: true, tracker =>
            Task.Run(() => workload.Fill(pages => tracker.Update(pages, pages), interrupt), CancellationToken.None)).ConfigureAwait(false);
        _report.PageKinds = workload.KindCounts;
        _report.BeforeEnable = HostMemory.Measure(guest, _setup.SwapDirectory);

        try
        {
            if (Continue(interrupt, PhaseNames.Fill))
            {
                workload.CreateVcpus();
                await (options.Interactive ? FollowRemoteCommandsAsync(guest, workload, interrupt) : RunScriptAsync(guest, workload, interrupt)).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Whatever failed, the pages must still come back and be checked.
            _report.Error ??= e.Message;
            _logger.Error(e, "the swap life cycle stopped early");
        }

        await DisableAsync().ConfigureAwait(false);
        await RunPhaseAsync(PhaseNames.Verify, guest.PageCount, showRate: true, tracker => Task.Run(
            () =>
            {
                _report.MismatchedPages = workload.Verify(pages => tracker.Update(pages, pages));
                _report.Verified = true;
                return guest.PageCount;
            },
            CancellationToken.None)).ConfigureAwait(false);
        return _report;
    }

    // The scripted life cycle: Enable, a short guest run, Trim, SwapOut, the idle run.
    private async Task RunScriptAsync(GuestMemory guest, GuestWorkload workload, CancellationToken interrupt)
    {
        var options = _setup.Options;
        var resident = ResidentPages(guest);
        await RunPhaseAsync(PhaseNames.Enable, resident, showRate: true, t => EnableAsync(t, resident)).ConfigureAwait(false);
        workload.SwapEnabled();

        if (Continue(interrupt, PhaseNames.Enable))
        {
            await GuestRunAsync(workload, PhaseNames.GuestRun, options.ShortRun, ShortRunSlice, interrupt).ConfigureAwait(false);
        }

        if (Continue(interrupt, PhaseNames.GuestRun))
        {
            await RunPhaseAsync(PhaseNames.Trim, await StagingPagesAsync().ConfigureAwait(false), showRate: true, t => RunJobAsync(SwapState.TrimInProgress, _swap.TrimAsync, t, interrupt)).ConfigureAwait(false);
            _report.BeforeSwapOut = HostMemory.Measure(guest, _setup.SwapDirectory);
        }

        if (Continue(interrupt, PhaseNames.Trim))
        {
            await RunPhaseAsync(PhaseNames.SwapOut, await StagingPagesAsync().ConfigureAwait(false), showRate: true, t => RunJobAsync(SwapState.SwapOutInProgress, _swap.SwapOutAsync, t, interrupt)).ConfigureAwait(false);
            _report.AfterSwapOut = HostMemory.Measure(guest, _setup.SwapDirectory);
        }

        if (Continue(interrupt, PhaseNames.SwapOut))
        {
            await GuestRunAsync(workload, PhaseNames.GuestIdle, options.IdleRun, 1.0, interrupt).ConfigureAwait(false);
            Continue(interrupt, PhaseNames.GuestIdle);
        }
    }

    // False once Ctrl-C has arrived or the runtime failed: the remaining swap phases are skipped.
    private bool Continue(CancellationToken interrupt, string phase)
    {
        if (interrupt.IsCancellationRequested)
        {
            _report.InterruptedDuring ??= phase;
        }

        return _report.InterruptedDuring is null && _report.Error is null;
    }

    private async Task RunPhaseAsync(string name, double total, bool showRate, Func<IPhaseTracker, Task<long>> body)
    {
        var tracker = _progress.Begin(name, total, showRate);
        var clock = Stopwatch.StartNew();
        long pages = 0;
        try
        {
            pages = await body(tracker).ConfigureAwait(false);
        }
        finally
        {
            // Enable, Disable and the verification always run to the end; the others stop on Ctrl-C.
            var uninterruptible = name is PhaseNames.Enable or PhaseNames.Disable or PhaseNames.Verify;
            tracker.Complete(pages, finished: uninterruptible || !_interrupt.IsCancellationRequested);
        }

        var ms = clock.Elapsed.TotalMilliseconds;
        var status = await StatusOrStoppedAsync().ConfigureAwait(false);

        // A runtime transition is timed by the runtime itself (what crosvm reports too); the
        // demo's clock would add up to one poll interval of waiting to notice that it ended.
        if ((name is PhaseNames.Enable or PhaseNames.Trim or PhaseNames.SwapOut or PhaseNames.Disable) && status?.StateTransition.TimeMs > 0)
        {
            ms = status.StateTransition.TimeMs;
        }

        double? rate = showRate && ms > 0 ? PageSize.PagesToBytes(pages) / 1e6 / (ms / 1000) : null;
        _report.Phases.Add(new PhaseResult(name, pages, ms, rate, status));
        if (status?.State == SwapState.Failed)
        {
            _report.Error ??= $"vmm-swap failed during {name}: {status.Error}";
        }
    }

    private async Task<long> EnableAsync(IPhaseTracker tracker, long resident)
    {
        var enable = _swap.EnableAsync();

        // Enable is not cancellable: the guest is paused and pages are in flight to staging. While
        // it runs, the pages left in the guest show how far it has got.
        while (await Task.WhenAny(enable, Task.Delay(PollInterval)).ConfigureAwait(false) != enable)
        {
            var status = await _swap.StatusAsync().ConfigureAwait(false);
            var staged = resident - status.Metrics.ResidentPages;
            tracker.Update(staged, staged);
        }

        var reply = await enable.ConfigureAwait(false);
        Require(reply);
        return reply.Status.StateTransition.Pages;
    }

    private async Task GuestRunAsync(GuestWorkload workload, string name, TimeSpan duration, double slice, CancellationToken interrupt)
    {
        await RunPhaseAsync(name, duration.TotalMilliseconds, showRate: false, async tracker =>
        {
            // A runtime pausing the guest for an Enable ends the run early (the interrupt too).
            using var run = await _pause.BeginRunAsync(interrupt).ConfigureAwait(false);
            var result = await workload.RunAsync(duration, slice, (elapsed, faults) => tracker.Update(elapsed.TotalMilliseconds, faults), run.Token).ConfigureAwait(false);
            _report.GuestRuns[name] = result;
            return result.Faults;
        }).ConfigureAwait(false);
    }

    // Starts a job (trim, swap-out) and follows it until it leaves `running`, or until Ctrl-C:
    // then it is left running, and the Disable that follows aborts it.
    private async Task<long> RunJobAsync(SwapState running, Func<CancellationToken, Task<CommandReply>> start, IPhaseTracker tracker, CancellationToken interrupt)
    {
        var reply = await start(CancellationToken.None).ConfigureAwait(false);
        Require(reply);
        var status = reply.Status;
        while (status.State == running && !interrupt.IsCancellationRequested)
        {
            await Task.Delay(PollInterval, CancellationToken.None).ConfigureAwait(false);
            status = await _swap.StatusAsync().ConfigureAwait(false);
            tracker.Update(status.StateTransition.Pages, status.StateTransition.Pages);
        }

        return status.StateTransition.Pages;
    }

    private async Task DisableAsync()
    {
        var before = await StatusOrStoppedAsync().ConfigureAwait(false);
        if (before is null || before.State == SwapState.Ready)
        {
            // Never enabled (interrupted during the fill, or Enable was refused), or exited (its
            // swap-in came before the stop): nothing to bring back.
            return;
        }

        try
        {
            await RunPhaseAsync(PhaseNames.Disable, before.Metrics.StagingPages + before.Metrics.SwapPages, showRate: true, async tracker =>
            {
                Require(await _swap.DisableAsync().ConfigureAwait(false));

                // Not cancellable: until swap-in is done, the only copy of many pages is outside the guest.
                return await WaitForReadyAsync(tracker).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _report.Error ??= e.Message;
            _logger.Error(e, "disable did not complete; verifying anyway (faults are still served)");
        }
    }

    private async Task<long> WaitForReadyAsync(IPhaseTracker tracker)
    {
        var deadline = Stopwatch.StartNew();
        long pages = 0;
        while (true)
        {
            // Stopped meanwhile by an exit, which waited for this swap-in (or did its own) first.
            if (await StatusOrStoppedAsync().ConfigureAwait(false) is not { } status)
            {
                return pages;
            }

            pages = status.StateTransition.Pages;
            tracker.Update(pages, pages);
            if (status.State == SwapState.Ready)
            {
                return pages;
            }

            if (status.State == SwapState.Failed || deadline.Elapsed > DisableDeadline)
            {
                throw new InvalidOperationException($"disable did not bring every page back: vmm-swap is {status.State} after {deadline.Elapsed.TotalSeconds:F0} s{(status.Error is null ? string.Empty : $" ({status.Error})")}");
            }

            await Task.Delay(PollInterval, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<long> StagingPagesAsync() => (await _swap.StatusAsync().ConfigureAwait(false)).Metrics.StagingPages;

    private static long ResidentPages(GuestMemory guest) =>
        guest.Regions.Sum(r => PageSize.BytesToPages((ulong)Native.Files.FileOps.Status(r.MemFd).AllocatedBytes));

    private static void Require(CommandReply reply)
    {
        // Failed replies throw in SwapController; an ignored command means the demo's idea of the
        // state is wrong, which must not pass silently.
        if (reply.Outcome == CommandOutcome.Ignored)
        {
            throw new InvalidOperationException($"vmm-swap ignored {reply.Command}: {reply.Reason}");
        }
    }
}
