using System.Diagnostics;
using Akka.Actor;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// Drives our runtime (SwapController over an ActorSystem) through the bench's passes, filling an
/// <see cref="OurRound"/>.
/// </summary>
internal sealed class OurRuntime(ActorSystem system, VmmSwapOptions options)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(10);
    private int _instances;

    /// <summary>Pages per fault case at <paramref name="pages"/> guest pages.</summary>
    internal static long FaultPages(long pages) => Math.Min(pages / 16, BenchOptions.MaxFaultPages);

    /// <summary>
    /// Pass 1: fill, Enable (timed), faults from staging and zero pages, SwapOut (timed), faults from
    /// the file, trim mix (30% zero, 30% clean, 40% dirty), Enable, Trim (timed), SwapOut, Disable (timed).
    /// </summary>
    internal async Task LifeCycleAsync(int sizeMib, OurRound round, CancellationToken cancellationToken)
    {
        var pages = PageSize.BytesToPages((ulong)sizeMib << 20);
        var n = FaultPages(pages);
        long a = 0, b = n, c = 2 * n, d = 3 * n, z1 = 4 * n, z2 = 5 * n, m = 6 * n;
        var mix = Math.Min(pages - m, BenchOptions.MaxTrimMixPages);
        var blocks = new Dictionary<string, long[]>
        {
            ["staging/seq"] = GuestThread.Block(a, n, false),
            ["staging/random"] = GuestThread.Block(b, n, true),
            ["file/seq"] = GuestThread.Block(c, n, false),
            ["file/random"] = GuestThread.Block(d, n, true),
            ["zero/seq"] = GuestThread.Block(z1, n, false),
            ["zero/random"] = GuestThread.Block(z2, n, true),
        };

        using var guest = GuestMemory.Create((ulong)sizeMib << 20);
        await GuestThread.RunAsync(() =>
        {
            for (long p = 0; p < pages; p++)
            {
                if (p >= z1 && p < m)
                {
                    continue; // never written: faults there are served with the zero page
                }

                var zero = p >= m && p < m + mix && (p - m) % 10 < 3;
                guest.Fill(guest.PageAddress(p), zero ? (byte)0 : Pattern(p), (ulong)PageSize.Bytes);
            }
        }).ConfigureAwait(false);

        round.HostBeforeBytes = HostMemory.Measure(guest, options.ResolvedSwapDirectory).TotalBytes;
        round.VmRssBeforeBytes = ProcStatus.VmRss();
        var swap = SwapController.Start(system, guest, options, $"bench-{Interlocked.Increment(ref _instances)}");
        var heap0 = GC.GetTotalMemory(forceFullCollection: true);
        var anon0 = ProcStatus.RssAnon();
        try
        {
            var clock = Stopwatch.StartNew();
            var enabled = await swap.EnableAsync(cancellationToken).ConfigureAwait(false);
            round.EnableGibS = Stats.GibPerSecond(PageSize.PagesToBytes(enabled.Status.StateTransition.Pages), clock.Elapsed);
            var heapPending = GC.GetTotalMemory(forceFullCollection: true);
            var anonPending = ProcStatus.RssAnon();

            foreach (var key in new[] { "staging/seq", "staging/random", "zero/seq", "zero/random" })
            {
                round.Faults[key] = await FaultsAsync(guest, blocks[key], round).ConfigureAwait(false);
            }

            clock.Restart();
            await swap.SwapOutAsync(cancellationToken).ConfigureAwait(false);
            var active = await WaitAsync(swap, SwapState.Active, cancellationToken).ConfigureAwait(false);
            round.SwapOutGibS = Stats.GibPerSecond(PageSize.PagesToBytes(active.StateTransition.Pages), clock.Elapsed);
            var heapActive = GC.GetTotalMemory(forceFullCollection: true);
            var anonActive = ProcStatus.RssAnon();
            round.HeapDeltaBytes = Math.Max(heapPending, heapActive) - heap0;
            round.RssAnonDeltaBytes = Math.Max(anonPending, anonActive) - anon0;
            round.VmRssActiveBytes = ProcStatus.VmRss();
            var host = HostMemory.Measure(guest, options.ResolvedSwapDirectory);
            round.HostActiveBytes = host.GuestBytes + host.StagingBytes;
            round.SwapPageCacheBytes = host.SwapPageCacheBytes;

            foreach (var key in new[] { "file/seq", "file/random" })
            {
                round.Faults[key] = await FaultsAsync(guest, blocks[key], round).ConfigureAwait(false);
            }

            // Right after the last fault, so the window the fault thread polls on once the guest
            // goes quiet counts here: idle CPU is what polling costs a guest that stopped faulting.
            round.IdleFaultThreadCpu = await FaultThreadCpu.MeasureAsync(() => IdleAsync(BenchOptions.IdleGuest, cancellationToken)).ConfigureAwait(false);

            // The trim mix: 30% zero pages, 30% clean (faulted back unchanged), 40% dirty (rewritten).
            await GuestThread.RunAsync(() =>
            {
                Span<byte> sink = stackalloc byte[8];
                for (var p = m; p < m + mix; p++)
                {
                    var address = guest.PageAddress(p);
                    switch ((p - m) % 10)
                    {
                        case < 3:
                            guest.Fill(address, 0, (ulong)PageSize.Bytes);
                            break;
                        case < 6:
                            guest.Read(address, sink);
                            break;
                        default:
                            guest.Fill(address, (byte)(Pattern(p) ^ 0x5A), (ulong)PageSize.Bytes);
                            break;
                    }
                }
            }).ConfigureAwait(false);

            var reenabled = await swap.EnableAsync(cancellationToken).ConfigureAwait(false);
            var staged = reenabled.Status.Metrics.StagingPages;
            clock.Restart();
            await swap.TrimAsync(cancellationToken).ConfigureAwait(false);
            var trimmed = await WaitAsync(swap, SwapState.Pending, cancellationToken).ConfigureAwait(false);
            round.TrimPages = staged;
            round.TrimDropped = staged - trimmed.Metrics.StagingPages;
            round.TrimPagesPerS = staged / Math.Max(clock.Elapsed.TotalSeconds, 1e-6);

            await swap.SwapOutAsync(cancellationToken).ConfigureAwait(false);
            await WaitAsync(swap, SwapState.Active, cancellationToken).ConfigureAwait(false);
            clock.Restart();
            await swap.DisableAsync(cancellationToken).ConfigureAwait(false);
            var ready = await WaitAsync(swap, SwapState.Ready, cancellationToken).ConfigureAwait(false);
            round.SwapInGibS = Stats.GibPerSecond(PageSize.PagesToBytes(ready.StateTransition.Pages), clock.Elapsed);
        }
        finally
        {
            await ExitAsync(swap).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pass 2, on a guest of at least <see cref="BenchOptions.MinJobGuestMib"/> so each job lasts:
    /// random faults while idle and while trim, swap-out and swap-in run.
    /// </summary>
    internal async Task DuringJobsAsync(int sizeMib, OurRound round, CancellationToken cancellationToken)
    {
        var mib = Math.Max(sizeMib, BenchOptions.MinJobGuestMib);
        var pages = PageSize.BytesToPages((ulong)mib << 20);
        var k = Math.Min(pages / 8, BenchOptions.MaxFaultPages);
        var idleStaging = GuestThread.Block(0, k, true, 2);
        var duringTrim = GuestThread.Block(k, k, true, 3);
        var duringSwapOut = GuestThread.Block(2 * k, k, true, 4);
        var idleFile = GuestThread.Block(3 * k, k, true, 5);
        // Swap-in walks the guest from its start: the last block is reached last, so most of its
        // touches fault while the swap-in runs (those that come after it are not counted).
        var duringSwapIn = GuestThread.Block(7 * k, k, true, 6);

        using var guest = GuestMemory.Create((ulong)mib << 20);
        await GuestThread.RunAsync(() =>
        {
            for (long p = 0; p < pages; p++)
            {
                var zero = p >= 4 * k && p < 7 * k && p % 10 < 3;
                guest.Fill(guest.PageAddress(p), zero ? (byte)0 : Pattern(p), (ulong)PageSize.Bytes);
            }
        }).ConfigureAwait(false);

        var swap = SwapController.Start(system, guest, options, $"bench-{Interlocked.Increment(ref _instances)}");
        try
        {
            await swap.EnableAsync(cancellationToken).ConfigureAwait(false);
            round.IdleStaging = await GuestThread.FaultAsync(guest, idleStaging).ConfigureAwait(false);
            round.DuringTrim = await DuringAsync(swap, guest, duringTrim, () => swap.TrimAsync(cancellationToken), SwapState.Pending, cancellationToken).ConfigureAwait(false);
            round.DuringSwapOut = await DuringAsync(swap, guest, duringSwapOut, () => swap.SwapOutAsync(cancellationToken), SwapState.Active, cancellationToken).ConfigureAwait(false);
            round.IdleFile = await GuestThread.FaultAsync(guest, idleFile).ConfigureAwait(false);
            round.DuringSwapIn = await DuringAsync(swap, guest, duringSwapIn, () => swap.DisableAsync(cancellationToken), SwapState.Ready, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await ExitAsync(swap).ConfigureAwait(false);
        }
    }

    /// <summary>Pass 3: the working set after Disable, swapped in first or in file order (<see cref="WorkingSetSwapIn"/>).</summary>
    internal async Task WorkingSetAsync(int sizeMib, OurRound round, CancellationToken cancellationToken) =>
        round.WorkingSet = await WorkingSetSwapIn.MeasureAsync(system, options, sizeMib, $"bench-{Interlocked.Increment(ref _instances)}", cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The multi-thread file-fault case: a guest of <paramref name="pages"/> pages written, Enable,
    /// SwapOut, then <paramref name="threads"/> guest threads at once, each faulting on its own share.
    /// </summary>
    internal async Task<FaultBurst> FileFaultsAtOnceAsync(long pages, int threads, bool random, CancellationToken cancellationToken)
    {
        var shares = MultiThreadFaults.Shares(pages, threads, random);
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(pages));
        await GuestThread.RunAsync(() =>
        {
            for (long p = 0; p < pages; p++)
            {
                guest.Fill(guest.PageAddress(p), Pattern(p), (ulong)PageSize.Bytes);
            }
        }).ConfigureAwait(false);

        var swap = SwapController.Start(system, guest, options, $"bench-{Interlocked.Increment(ref _instances)}");
        try
        {
            await swap.EnableAsync(cancellationToken).ConfigureAwait(false);
            await swap.SwapOutAsync(cancellationToken).ConfigureAwait(false);
            await WaitAsync(swap, SwapState.Active, cancellationToken).ConfigureAwait(false);
            return await MultiThreadFaults.AtOnceAsync(guest, shares).ConfigureAwait(false);
        }
        finally
        {
            await ExitAsync(swap).ConfigureAwait(false);
        }
    }

    // One fault block, its fault-thread CPU added to the round's.
    private static async Task<Latency> FaultsAsync(GuestMemory guest, long[] pages, OurRound round)
    {
        var (latency, cpu) = await FaultThreadCpu.MeasureAsync(() => GuestThread.FaultAsync(guest, pages)).ConfigureAwait(false);
        round.FaultThreadCpu += cpu;
        return latency;
    }

    // Task.Delay can end a little early by the Stopwatch's clock (it waits on a coarser timer):
    // the idle stretch is at least its length, as the figure per second assumes.
    private static async Task IdleAsync(TimeSpan length, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < length)
        {
            await Task.Delay(length - clock.Elapsed + TimeSpan.FromMilliseconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<Latency> DuringAsync(SwapController swap, GuestMemory guest, long[] pages, Func<Task<CommandReply>> start, SwapState until, CancellationToken cancellationToken)
    {
        await start().ConfigureAwait(false);
        var stop = new StopFlag();
        var faults = GuestThread.FaultUntilAsync(guest, pages, stop, faultsOnly: true);
        try
        {
            await WaitAsync(swap, until, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            stop.Set();
        }

        return await faults.ConfigureAwait(false);
    }

    /// <summary>The status once <paramref name="state"/> is reached; a timeout or a failure of the runtime is a <see cref="BenchException"/>.</summary>
    internal static async Task<SwapStatus> WaitAsync(SwapController swap, SwapState state, CancellationToken cancellationToken)
    {
        SwapStatus status;
        try
        {
            status = await swap.WaitForStateAsync(state, Deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new BenchException($"the runtime did not reach {state} within {Deadline.TotalMinutes} min: {e.Message}");
        }

        return status.State == state ? status : throw new BenchException($"the runtime failed: {status.Error}");
    }

    /// <summary>Exits the runtime; one that already failed has said why elsewhere.</summary>
    internal static async Task ExitAsync(SwapController swap)
    {
        try
        {
            await swap.ExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (SwapCommandException)
        {
            // Already failed; the error that got us here is the one to report.
        }
    }

    private static byte Pattern(long page) => (byte)(page % 251 + 1);
}
