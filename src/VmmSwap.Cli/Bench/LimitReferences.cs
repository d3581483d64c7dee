using System.Globalization;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Bench;

/// <summary>What native_ref's limit modes gave in one round, GiB/s.</summary>
internal sealed record LimitRound(double EnableGibS, int EnableThreads, double SwapOutGibS, long SwapOutFdatasyncs, double SwapInGibS, double DiskReadGibS);

/// <summary>One job's rate against its limit (median over rounds); the ratio is ours / limit.</summary>
internal sealed record LimitRatio(double OursGibPerS, double LimitGibPerS, double Ratio);

/// <summary>
/// The runtime's jobs at one size against the fastest this machine could do the same move:
/// Enable against memcpy on <paramref name="EnableThreads"/> cores plus hole punches, swap-out
/// against the runtime's own write/sync pattern alone, swap-in against chunked pread +
/// UFFDIO_COPY; <paramref name="DiskReadGibPerS"/> is the bare sequential pread of the swap file,
/// which no swap-in from it can beat. The pauses are how long a guest of <paramref name="PauseGuestMib"/>
/// would be paused for Enable at our rate and at the limit.
/// </summary>
internal sealed record LimitResult(
    int SizeMib,
    LimitRatio Enable,
    LimitRatio SwapOut,
    LimitRatio SwapIn,
    int EnableThreads,
    long SwapOutFdatasyncs,
    double DiskReadGibPerS,
    double SwapInVsDisk,
    int PauseGuestMib,
    double EnablePauseMs,
    double LimitEnablePauseMs);

/// <summary>
/// The limit references of the bench: native_ref's limit-enable, limit-swapout and limit-swapin
/// run with the runtime's chunking, and our rates reported as fractions of them with the issue's targets.
/// </summary>
internal static class LimitReferences
{
    /// <summary>Enable's target: the guest is paused for all of it, and memcpy on every core is a high bar.</summary>
    internal const double EnableTarget = 0.5;

    /// <summary>Swap-out's target against the same writes and syncs with nothing in between.</summary>
    internal const double SwapOutTarget = 0.9;

    /// <summary>Swap-in's target against chunked pread + UFFDIO_COPY.</summary>
    internal const double SwapInTarget = 0.9;

    /// <summary>
    /// Bytes written and not yet synced after which the runtime's next swap-out write syncs first:
    /// VmmSwap.Core's PageHandler.DurableBatchPages (16384 pages), internal to that assembly.
    /// </summary>
    internal const long SyncEveryBytes = 64L << 20;

    /// <summary>The guest size the note's Enable pause is given for.</summary>
    internal const int PauseGuestMib = 4096;

    /// <summary>Runs the three limit modes once on <paramref name="pages"/> pages, swap-out and swap-in in chunks of <paramref name="chunkBytes"/>.</summary>
    internal static async Task<LimitRound> MeasureAsync(NativeReference native, long pages, ulong chunkBytes, string swapDirectory, CancellationToken cancellationToken)
    {
        var n = pages.ToString(CultureInfo.InvariantCulture);
        var chunk = chunkBytes.ToString(CultureInfo.InvariantCulture);
        using var enable = await native.InvokeAsync(["limit-enable", n], cancellationToken).ConfigureAwait(false);
        using var swapOut = await native.InvokeAsync(["limit-swapout", n, swapDirectory, chunk, SyncEveryBytes.ToString(CultureInfo.InvariantCulture)], cancellationToken).ConfigureAwait(false);
        using var swapIn = await native.InvokeAsync(["limit-swapin", n, swapDirectory, chunk], cancellationToken).ConfigureAwait(false);
        return new LimitRound(
            enable.RootElement.GetProperty("gib_per_s").GetDouble(),
            enable.RootElement.GetProperty("threads").GetInt32(),
            swapOut.RootElement.GetProperty("gib_per_s").GetDouble(),
            swapOut.RootElement.GetProperty("fdatasyncs").GetInt64(),
            swapIn.RootElement.GetProperty("gib_per_s").GetDouble(),
            swapIn.RootElement.GetProperty("pread_gib_per_s").GetDouble());
    }

    /// <summary>Pages of a guest of <paramref name="sizeMib"/> MiB, as the limit modes take them.</summary>
    internal static long Pages(int sizeMib) => PageSize.BytesToPages((ulong)sizeMib << 20);

    /// <summary>Our medians at one size against the medians of the limit rounds.</summary>
    internal static LimitResult Size(SizeResult ours, IReadOnlyList<LimitRound> rounds) =>
        Size(ours.SizeMib, ours.Enable.OursGibPerS, ours.SwapOut.OursGibPerS, ours.SwapIn.OursGibPerS, rounds);

    /// <summary>Our rates (GiB/s, medians) at <paramref name="sizeMib"/> against the medians of the limit rounds.</summary>
    internal static LimitResult Size(int sizeMib, double oursEnable, double oursSwapOut, double oursSwapIn, IReadOnlyList<LimitRound> rounds)
    {
        LimitRatio Pair(double ours, Func<LimitRound, double> limit)
        {
            var median = Stats.Median(rounds.Select(limit));
            return new LimitRatio(ours, median, Stats.Ratio(ours, median));
        }

        var enable = Pair(oursEnable, r => r.EnableGibS);
        var disk = Stats.Median(rounds.Select(r => r.DiskReadGibS));
        return new LimitResult(
            sizeMib,
            enable,
            Pair(oursSwapOut, r => r.SwapOutGibS),
            Pair(oursSwapIn, r => r.SwapInGibS),
            rounds.Count > 0 ? rounds.Max(r => r.EnableThreads) : 0,
            (long)Stats.Median(rounds.Select(r => (double)r.SwapOutFdatasyncs)),
            disk,
            Stats.Ratio(oursSwapIn, disk),
            PauseGuestMib,
            PauseMs(enable.OursGibPerS),
            PauseMs(enable.LimitGibPerS));
    }

    /// <summary>The issue's targets for each size: each job as a fraction of its limit.</summary>
    internal static IEnumerable<TargetResult> Targets(IReadOnlyList<LimitResult> limits)
    {
        foreach (var l in limits)
        {
            yield return new TargetResult("enable / limit (memcpy on every core + hole punches)", AtLeast(EnableTarget), l.SizeMib, l.Enable.Ratio, l.Enable.Ratio >= EnableTarget);
            yield return new TargetResult("swap-out / limit (pwrite + writeback + fdatasync, same chunks)", AtLeast(SwapOutTarget), l.SizeMib, l.SwapOut.Ratio, l.SwapOut.Ratio >= SwapOutTarget);
            yield return new TargetResult("swap-in / limit (pread + UFFDIO_COPY)", AtLeast(SwapInTarget), l.SizeMib, l.SwapIn.Ratio, l.SwapIn.Ratio >= SwapInTarget);
        }
    }

    /// <summary>How the limits are measured and, from the largest size's Enable rate, how long Enable pauses a 4 GiB guest.</summary>
    internal static IEnumerable<string> Notes(IReadOnlyList<LimitResult> limits, ulong chunkBytes)
    {
        if (limits.Count == 0)
        {
            yield break;
        }

        yield return $"limits: enable = memcpy of the filled guest into staging already allocated and mapped, one thread per core ({limits[^1].EnableThreads}) each a contiguous share, the guest memfd hole-punched behind it in 2 MiB steps; swap-out = the runtime's I/O alone: pwrite of {chunkBytes >> 20} MiB chunks, sync_file_range(WRITE) each, fdatasync before the next write once {SyncEveryBytes >> 20} MiB are unsynced and at the end, then FADV_DONTNEED; swap-in = the file flushed and dropped from the page cache, pread in {chunkBytes >> 20} MiB chunks into one buffer, each UFFDIO_COPYed into a registered guest (the runtime overlaps its reads with its copies, so it may pass this; the disk column is the same reads alone, the cache dropped first, which nothing can pass)";
        var largest = limits[^1];
        yield return string.Create(CultureInfo.InvariantCulture, $"enable pause: the guest is paused for the whole Enable; at the Enable rate measured at {largest.SizeMib} MiB ({largest.Enable.OursGibPerS:F2} GiB/s) a {PauseGuestMib / 1024} GiB guest is paused ~{largest.EnablePauseMs:F0} ms (at its limit, {largest.Enable.LimitGibPerS:F2} GiB/s: ~{largest.LimitEnablePauseMs:F0} ms)");
    }

    private static string AtLeast(double target) => ">= " + target.ToString("0.0#", CultureInfo.InvariantCulture);

    private static double PauseMs(double gibPerS) => gibPerS > 0 ? PauseGuestMib / 1024.0 / gibPerS * 1000 : 0;
}
