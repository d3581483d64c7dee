using System.Diagnostics;
using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// The multi-vCPU file-fault case: after Enable + SwapOut, several guest threads released together
/// each fault on their own share of swapped-out pages, the way vCPUs of one guest fault at once.
/// </summary>
internal static class MultiThreadFaults
{
    /// <summary>The value of <c>--only</c> that runs this case and nothing else.</summary>
    internal const string Only = "multi-thread-faults";

    /// <summary>
    /// Guest threads faulting at once. One thread is the baseline on the same flushed file: it
    /// tells what several threads add from what a file fault costs alone; it has no target.
    /// </summary>
    internal static readonly int[] ThreadCounts = [1, 2, 4];

    /// <summary>The fewest threads a target is reported for.</summary>
    internal const int MinTargetThreads = 2;

    /// <summary>Order in which each thread walks its share.</summary>
    internal static readonly string[] Orders = ["seq", "random"];

    internal static IEnumerable<(int Threads, string Order)> Cases =>
        ThreadCounts.SelectMany(t => Orders.Select(o => (t, o)));

    internal static string Key(int threads, string order) => $"{threads}/{order}";

    /// <summary>
    /// Pages faulted in all at <paramref name="guestPages"/> guest pages: as many as one
    /// single-thread fault case, cut to a whole share per thread.
    /// </summary>
    internal static long Pages(long guestPages, int threads) => OurRuntime.FaultPages(guestPages) / threads * threads;

    /// <summary>Thread t's share: pages [t*share, (t+1)*share), in order or shuffled with seed t+1.</summary>
    internal static long[][] Shares(long pages, int threads, bool random)
    {
        var share = pages / threads;
        return [.. Enumerable.Range(0, threads).Select(t => GuestThread.Block(t * share, share, random, t + 1))];
    }

    /// <summary>One round of ours: every case, keyed by <see cref="Key"/>.</summary>
    internal static async Task<Dictionary<string, FaultBurst>> OursAsync(OurRuntime ours, long guestPages, CancellationToken cancellationToken)
    {
        var bursts = new Dictionary<string, FaultBurst>();
        foreach (var (threads, order) in Cases)
        {
            bursts[Key(threads, order)] = await ours.FileFaultsAtOnceAsync(Pages(guestPages, threads), threads, order == "random", cancellationToken).ConfigureAwait(false);
        }

        return bursts;
    }

    /// <summary>One round of native_ref: every case under both handler designs, keyed by <see cref="Key"/>.</summary>
    internal static async Task<Dictionary<string, MultiThreadReport.NativePair>> NativeAsync(NativeReference native, long guestPages, string swapDir, CancellationToken cancellationToken)
    {
        var bursts = new Dictionary<string, MultiThreadReport.NativePair>();
        foreach (var (threads, order) in Cases)
        {
            var pages = Pages(guestPages, threads);
            bursts[Key(threads, order)] = new MultiThreadReport.NativePair(
                await native.FaultThreadsAsync(pages, threads, order, swapDir, uffdPerThread: false, cancellationToken).ConfigureAwait(false),
                await native.FaultThreadsAsync(pages, threads, order, swapDir, uffdPerThread: true, cancellationToken).ConfigureAwait(false));
        }

        return bursts;
    }

    /// <summary>
    /// Runs one guest thread per share, released together by a barrier, each timing the first
    /// 8-byte read of each of its pages; the latencies of all threads are merged, and the wall
    /// time runs from the release to the last thread's last read.
    /// </summary>
    internal static async Task<FaultBurst> AtOnceAsync(GuestMemory guest, long[][] shares)
    {
        var latencies = shares.Select(s => new double[s.Length]).ToArray();
        var ends = new long[shares.Length];
        long start = 0;
        var toUs = 1e6 / Stopwatch.Frequency;
        using (var release = new Barrier(shares.Length, _ => start = Stopwatch.GetTimestamp()))
        {
            await Task.WhenAll(shares.Select((share, t) => GuestThread.RunAsync(() =>
            {
                Span<byte> sink = stackalloc byte[8];
                var mine = latencies[t];
                release.SignalAndWait();
                for (var i = 0; i < share.Length; i++)
                {
                    var address = guest.PageAddress(share[i]);
                    var t0 = Stopwatch.GetTimestamp();
                    guest.Read(address, sink);
                    mine[i] = (Stopwatch.GetTimestamp() - t0) * toUs;
                }

                ends[t] = Stopwatch.GetTimestamp();
            }))).ConfigureAwait(false);
        }

        var all = latencies.SelectMany(l => l).ToArray();
        return FaultBurst.Of(Latency.Of(all, all.Length), (ends.Max() - start) / (double)Stopwatch.Frequency);
    }
}
