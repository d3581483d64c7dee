using System.Diagnostics;
using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// The bench's vCPU: a dedicated thread that touches guest memory only through
/// <see cref="GuestMemory"/>'s native accessors (docs/ARCHITECTURE.md, "GC safety"), timing each first touch.
/// </summary>
internal static class GuestThread
{
    /// <summary>A read this fast found its page mapped: even a zero-page fault takes several microseconds here.</summary>
    internal const double NoFaultMicroseconds = 2;

    /// <summary>Runs <paramref name="work"/> on a new thread and completes when it returns.</summary>
    internal static Task RunAsync(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                work();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "bench guest",
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>Reads 8 bytes of each page in <paramref name="pages"/>, in order, timing each read.</summary>
    internal static Task<Latency> FaultAsync(GuestMemory guest, long[] pages) => FaultUntilAsync(guest, pages, stop: null);

    /// <summary>
    /// As <see cref="FaultAsync"/>, stopping early once <paramref name="stop"/> is set. Reads under
    /// <see cref="NoFaultMicroseconds"/> are not counted when <paramref name="faultsOnly"/>: the page
    /// was already in (a job brought it back first), so no fault was served.
    /// </summary>
    internal static async Task<Latency> FaultUntilAsync(GuestMemory guest, long[] pages, StopFlag? stop, bool faultsOnly = false)
    {
        var latencies = new double[pages.Length];
        var count = 0;
        var toUs = 1e6 / Stopwatch.Frequency;
        await RunAsync(() =>
        {
            Span<byte> sink = stackalloc byte[8];
            foreach (var page in pages)
            {
                if (stop is not null && stop.IsSet)
                {
                    break;
                }

                var address = guest.PageAddress(page);
                var t0 = Stopwatch.GetTimestamp();
                guest.Read(address, sink);
                var us = (Stopwatch.GetTimestamp() - t0) * toUs;
                if (!faultsOnly || us >= NoFaultMicroseconds)
                {
                    latencies[count++] = us;
                }
            }
        }).ConfigureAwait(false);
        return Latency.Of(latencies, count);
    }

    /// <summary>Pages first..first+count-1, in order or shuffled with a fixed seed.</summary>
    internal static long[] Block(long first, long count, bool random, int seed = 1)
    {
        var pages = new long[count];
        for (long i = 0; i < count; i++)
        {
            pages[i] = first + i;
        }

        if (random)
        {
            new Random(seed).Shuffle(pages);
        }

        return pages;
    }
}

/// <summary>Set by the task driving a job to stop a guest thread that faults while the job runs.</summary>
internal sealed class StopFlag
{
    private volatile bool _set;

    internal bool IsSet => _set;

    internal void Set() => _set = true;
}
