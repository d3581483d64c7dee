using System.Diagnostics;
using Akka.Actor;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Bench;

/// <summary>One way back from swap: how long the guest took to touch its whole working set after Disable, and how many of those touches faulted.</summary>
/// <param name="TouchMs">From Disable sent (or, never swapped, from the first touch) to the last page of the working set touched.</param>
/// <param name="Faults">Touches that waited for a fault (slower than <see cref="GuestThread.NoFaultMicroseconds"/>).</param>
internal sealed record WorkingSetCase(double TouchMs, long Faults);

/// <summary>
/// The working-set case at one size: never swapped, sequential swap-in, working set first, and
/// prefetched (Prefetch run to its end while Active, then Disable; <paramref name="PrefetchMs"/> is how long it took).
/// </summary>
internal sealed record WorkingSetResult(int GuestMib, long WorkingSetPages, WorkingSetCase NeverSwapped, WorkingSetCase Sequential, WorkingSetCase WorkingSetFirst, WorkingSetCase Prefetched, double PrefetchMs)
{
    /// <summary>1 - working-set-first faults / sequential faults.</summary>
    public double FaultsCut => Cut(WorkingSetFirst);

    /// <summary>Working-set-first touch time / never-swapped touch time.</summary>
    public double TouchVsNeverSwapped => Stats.Ratio(WorkingSetFirst.TouchMs, NeverSwapped.TouchMs);

    /// <summary>1 - prefetched faults / sequential faults.</summary>
    public double PrefetchedFaultsCut => Cut(Prefetched);

    /// <summary>Prefetched touch time (from Disable) / never-swapped touch time.</summary>
    public double PrefetchedTouchVsNeverSwapped => Stats.Ratio(Prefetched.TouchMs, NeverSwapped.TouchMs);

    private double Cut(WorkingSetCase c) => Sequential.Faults > 0 ? 1 - ((double)c.Faults / Sequential.Faults) : 0;

    internal static WorkingSetResult Median(IReadOnlyList<WorkingSetResult> rounds)
    {
        WorkingSetCase Case(Func<WorkingSetResult, WorkingSetCase> pick) =>
            new(Stats.Median(rounds.Select(r => pick(r).TouchMs)), (long)Stats.Median(rounds.Select(r => (double)pick(r).Faults)));
        return new(rounds[0].GuestMib, rounds[0].WorkingSetPages, Case(r => r.NeverSwapped), Case(r => r.Sequential), Case(r => r.WorkingSetFirst), Case(r => r.Prefetched), Stats.Median(rounds.Select(r => r.PrefetchMs)));
    }
}

/// <summary>
/// REAP's case: a guest touches a working set (a seeded random 1/16 of its pages, at most
/// <see cref="BenchOptions.MaxFaultPages"/>) while swapped out, goes idle and is swapped out again;
/// after Disable it touches that working set again at once. Measured with the working set recorded
/// and swapped in first, with a swap-in in file order, with a Prefetch run to its end before the
/// Disable (the host's way to have it back before the guest wakes), and on a guest never swapped.
/// </summary>
internal static class WorkingSetSwapIn
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(10);

    internal static async Task<WorkingSetResult> MeasureAsync(ActorSystem system, VmmSwapOptions options, int sizeMib, string name, CancellationToken cancellationToken)
    {
        var mib = Math.Clamp(sizeMib, BenchOptions.MinJobGuestMib, 1024);
        var pages = PageSize.BytesToPages((ulong)mib << 20);
        var workingSet = GuestThread.Block(0, pages, random: true, seed: 8)[..(int)Math.Min(pages / 16, BenchOptions.MaxFaultPages)];

        using var guest = GuestMemory.Create((ulong)mib << 20);
        await GuestThread.RunAsync(() =>
        {
            for (long p = 0; p < pages; p++)
            {
                guest.Fill(guest.PageAddress(p), (byte)((p % 251) + 1), (ulong)PageSize.Bytes);
            }
        }).ConfigureAwait(false);

        var start = Stopwatch.GetTimestamp();
        var never = await GuestThread.FaultUntilAsync(guest, workingSet, stop: null, faultsOnly: true).ConfigureAwait(false);
        var neverSwapped = new WorkingSetCase(Stopwatch.GetElapsedTime(start).TotalMilliseconds, never.Faults);
        var (sequential, _) = await CycleAsync(system, guest, workingSet, options with { WorkingSetFirst = false }, prefetch: false, $"{name}-sequential", cancellationToken).ConfigureAwait(false);
        var (first, _) = await CycleAsync(system, guest, workingSet, options with { WorkingSetFirst = true }, prefetch: false, $"{name}-working-set", cancellationToken).ConfigureAwait(false);
        var (prefetched, prefetchMs) = await CycleAsync(system, guest, workingSet, options with { WorkingSetFirst = true }, prefetch: true, $"{name}-prefetched", cancellationToken).ConfigureAwait(false);
        return new WorkingSetResult(mib, workingSet.Length, neverSwapped, sequential, first, prefetched, prefetchMs);
    }

    private static async Task<(WorkingSetCase Case, double PrefetchMs)> CycleAsync(ActorSystem system, GuestMemory guest, long[] workingSet, VmmSwapOptions options, bool prefetch, string name, CancellationToken cancellationToken)
    {
        var swap = SwapController.Start(system, guest, options, name);
        try
        {
            await SwapOutAsync(swap, cancellationToken).ConfigureAwait(false);

            // The guest's working set while it was swapped out, recorded by the runtime if it records.
            await GuestThread.FaultAsync(guest, workingSet).ConfigureAwait(false);
            var active = await SwapOutAsync(swap, cancellationToken).ConfigureAwait(false);
            var prefetchMs = prefetch ? await PrefetchAsync(swap, active.Metrics.SwapPages - workingSet.Length, cancellationToken).ConfigureAwait(false) : 0;

            var start = Stopwatch.GetTimestamp();
            await swap.DisableAsync(cancellationToken).ConfigureAwait(false);
            var touched = await GuestThread.FaultUntilAsync(guest, workingSet, stop: null, faultsOnly: true).ConfigureAwait(false);
            var touchMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            await OurRuntime.WaitAsync(swap, SwapState.Ready, cancellationToken).ConfigureAwait(false);
            return (new WorkingSetCase(touchMs, touched.Faults), prefetchMs);
        }
        finally
        {
            await OurRuntime.ExitAsync(swap).ConfigureAwait(false);
        }
    }

    private static async Task<SwapStatus> SwapOutAsync(SwapController swap, CancellationToken cancellationToken)
    {
        await swap.EnableAsync(cancellationToken).ConfigureAwait(false);
        await swap.SwapOutAsync(cancellationToken).ConfigureAwait(false);
        return await OurRuntime.WaitAsync(swap, SwapState.Active, cancellationToken).ConfigureAwait(false);
    }

    // A prefetch keeps the state Active: it is over once the working set has left the swap file.
    private static async Task<double> PrefetchAsync(SwapController swap, long swapPagesAfter, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        await swap.PrefetchAsync(cancellationToken).ConfigureAwait(false);
        while ((await swap.StatusAsync(cancellationToken).ConfigureAwait(false)).Metrics.SwapPages > swapPagesAfter)
        {
            if (Stopwatch.GetElapsedTime(start) > Deadline)
            {
                throw new BenchException($"the prefetch did not bring the working set back within {Deadline.TotalMinutes} min");
            }

            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
