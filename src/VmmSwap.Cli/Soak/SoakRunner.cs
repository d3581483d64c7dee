using System.Diagnostics;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// Runs the soak: a guest at fixed addresses, the runtime hosted in this process as the demo hosts
/// it, guest threads and a watchdog running throughout, and cycles until the cycles or minutes
/// asked for are done, a hang is found, or Ctrl-C. Resources are sampled after the first cycle
/// and at the end for the leak check.
/// </summary>
public sealed class SoakRunner
{
    private const int Regions = 2;

    // How often the watchdog looks at the guest threads' accesses and the second process.
    private static readonly TimeSpan WatchEvery = TimeSpan.FromMilliseconds(500);

    private readonly SoakOptions _options;
    private readonly Serilog.ILogger _logger;

    /// <summary>A runner for <paramref name="options"/> (already validated), logging the runtime to <paramref name="logger"/>.</summary>
    public SoakRunner(SoakOptions options, Serilog.ILogger logger)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <summary>Runs the soak and returns its report; <paramref name="interrupt"/> (Ctrl-C) stops it after the cycle under way.</summary>
    public async Task<SoakReport> RunAsync(CancellationToken interrupt)
    {
        var clock = Stopwatch.StartNew();
        var counters = new SoakCounters();
        using var swapDir = SoakSwapDir.Create(_options.ResolvedSwapDir, _options.GuestBytes);
        using var guest = SoakGuest.Create(SoakGuest.RegionSizes(_options.GuestBytes, Regions));
        var reference = new PageReference(_options.Seed, guest.Memory.PageCount);
        Fill(guest.Memory, reference);
        var checker = new PageChecker(guest.Memory, reference, counters);
        var gate = new GuestGate(_options.GuestThreads);
        var owned = SoakLayout.Owned(guest.Memory.PageCount, _options.GuestThreads, _options.Seed);
        var vcpus = owned.Select((pages, i) => new SoakVcpu(i, guest.Memory, reference, checker, gate, counters, pages, _options.Seed)).ToList();
        ResourceSample? early = null;
        ResourceSample? end = null;
        var cycles = 0;
        {
            // Working set first, so every swap-in also reads working-set copies, and a full disk
            // meets their writes too.
            await using var runtime = await SwapRuntime.StartAsync(guest.Memory, swapDir.Path, _logger, CancellationToken.None, workingSetFirst: true).ConfigureAwait(false);
            var swap = new SwapController(runtime.Controller.Supervisor, SoakDeadlines.Deadline);
            var sender = new CommandSender(swap, gate, counters);
            await using var second = new SecondProcessAttachment(guest, _options.Seed, swap, counters);
            var cycle = new SoakCycle(_options, sender, second, swapDir, vcpus, checker, SoakLayout.ReadOnlyPages(guest.Memory.PageCount), counters);
            vcpus.ForEach(v => v.Start());
            using var stopWatching = new CancellationTokenSource();
            var watchdog = WatchAsync(vcpus, second, counters, stopWatching.Token);
            try
            {
                while (More(cycles, clock.Elapsed) && !interrupt.IsCancellationRequested && counters.Hangs.Count == 0)
                {
                    counters.Cycle = ++cycles;
                    await cycle.RunAsync(cycles).ConfigureAwait(false);
                    if (cycles == 1)
                    {
                        early = ResourceSample.Take(cycles);
                    }
                }

                end = ResourceSample.Take(cycles);
            }
            finally
            {
                await stopWatching.CancelAsync().ConfigureAwait(false);
                await watchdog.ConfigureAwait(false);
                gate.Release();
                foreach (var vcpu in vcpus.Where(v => !v.Stop(SoakDeadlines.Deadline)))
                {
                    counters.Hang(HangKind.GuestAccess, $"{vcpu.Access} did not return at the end of the run (its thread waits in {vcpu.WaitChannel})", SoakDeadlines.Deadline);
                }
            }
        }

        return new SoakReport(
            _options,
            guest.Memory.PageCount,
            cycles,
            clock.Elapsed,
            interrupt.IsCancellationRequested,
            counters,
            (swapDir.Method, swapDir.CanFill),
            ThrottledDisk.Availability(swapDir),
            early,
            end);
    }

    private bool More(int cycles, TimeSpan elapsed) => _options.Minutes is { } minutes
        ? elapsed < TimeSpan.FromMinutes(minutes)
        : cycles < (_options.Cycles ?? SoakOptions.DefaultCycles);

    // Every page gets version 0, written through GuestMemory like every later write.
    private static void Fill(GuestMemory guest, PageReference reference) =>
        Parallel.For(0, guest.PageCount, () => new byte[PageSize.Bytes], (page, _, buffer) =>
        {
            PageContent.Fill(reference.Seed, page, 0, buffer);
            guest.Write(guest.PageAddress(page), buffer);
            return buffer;
        }, _ => { });

    // Reports each guest access and each second process that has been stuck longer than the deadline, once.
    private static async Task WatchAsync(IReadOnlyList<SoakVcpu> vcpus, SecondProcessAttachment second, SoakCounters counters, CancellationToken stop)
    {
        var reported = new long[vcpus.Count];
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(WatchEvery, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var vcpu in vcpus)
            {
                var since = vcpu.AccessStarted;
                if (since != 0 && since != reported[vcpu.Id] && Stopwatch.GetElapsedTime(since) > SoakDeadlines.Deadline)
                {
                    reported[vcpu.Id] = since;
                    counters.Hang(HangKind.GuestAccess, $"{vcpu.Access} did not return (its thread waits in {vcpu.WaitChannel})", SoakDeadlines.Deadline);
                }
            }

            second.Watch();
        }
    }
}
