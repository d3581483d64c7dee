using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// Real guest threads fault continuously through <see cref="GuestMemory"/> while trim, swap-out
/// and swap-in run: no fault is lost and every page ends as last written. And the GC rule of
/// docs/ARCHITECTURE.md, "GC safety": the whole life cycle completes while another thread forces blocking GCs. One
/// class past the usual length: the cases share the guest threads and their page checks.
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper output) : SwapTestKit(output)
{
    // Any single guest access taking longer than this is a lost fault.
    private static readonly TimeSpan AccessDeadline = TimeSpan.FromSeconds(10);

    private readonly ITestOutputHelper _output = output;

    [Fact]
    public async Task Guest_threads_faulting_during_trim_swap_out_and_swap_in_lose_no_fault_and_no_data()
    {
        using var guest = new GuestFixture(1024, 512);
        guest.Fill(seed: 40);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(16), TrimChunkPages = 32 };
        var swap = StartPaused(guest.Memory, options, name: "concurrent-faults");
        using var threads = new GuestThreads(guest, count: 3, seed: 41);

        // Enable with the guest paused, as a VMM does.
        await swap.EnableAsync().WaitAsync(Deadline);
        threads.Start();

        // Trim: the guest faults pages out of staging while the job is held, then while it runs.
        await swap.TrimAsync().WaitAsync(Deadline);
        var trimming = await WaitForMetricAsync(swap, threads, m => m.CopiedFromStagingPages, 64);
        Assert.Equal(SwapState.TrimInProgress, trimming.State);
        ResumeJobs(swap);
        await WaitForStateAsync(swap, threads, SwapState.Pending);

        // Swap-out: restage everything with the guest paused, then fault during the swap-out.
        await threads.PauseAsync(Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        threads.Resume();
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var swappingOut = await WaitForMetricAsync(swap, threads, m => m.CopiedFromStagingPages, 64);
        Assert.Equal(SwapState.SwapOutInProgress, swappingOut.State);
        ResumeJobs(swap);
        await WaitForStateAsync(swap, threads, SwapState.Active);

        // Swap-in: swap everything out with the guest paused, then fault during the swap-in.
        await threads.PauseAsync(Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        var active = await WaitForStateAsync(swap, threads, SwapState.Active);
        Assert.Equal(0, active.Metrics.StagingPages);
        threads.Resume();
        await swap.DisableAsync().WaitAsync(Deadline);
        var swappingIn = await WaitForMetricAsync(swap, threads, m => m.CopiedFromFilePages, 64);
        Assert.Equal(SwapState.SwapInInProgress, swappingIn.State);
        ResumeJobs(swap);
        await WaitForStateAsync(swap, threads, SwapState.Ready);

        // A little more guest work on plain memory, then everything is checked.
        await threads.WaitForAccessesAsync(1000, Deadline);
        threads.Stop(Deadline);
        _output.WriteLine($"{threads.Accesses} guest accesses, longest {threads.LongestAccess.TotalMilliseconds:F1} ms");
        Assert.Empty(threads.Errors);
        Assert.True(threads.LongestAccess < AccessDeadline, $"a guest access took {threads.LongestAccess}");
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Guest_threads_faulting_while_unpaused_jobs_run_back_to_back_keep_every_page()
    {
        using var guest = new GuestFixture(768, 256);
        guest.Fill(seed: 42, stride: 2);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(8), TrimChunkPages = 16 };
        var swap = SwapController.Start(Sys, guest.Memory, options, name: "concurrent-cycles");
        using var threads = new GuestThreads(guest, count: 4, seed: 43);

        for (var cycle = 0; cycle < 3; cycle++)
        {
            await threads.PauseAsync(Deadline);
            await swap.EnableAsync().WaitAsync(Deadline);
            if (cycle == 0)
            {
                threads.Start();
            }
            else
            {
                threads.Resume();
            }

            await swap.TrimAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Pending);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Active);
            await threads.WaitForAccessesAsync(500, Deadline);
            await swap.DisableAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Ready);
        }

        threads.Stop(Deadline);
        Assert.Empty(threads.Errors);
        Assert.True(threads.LongestAccess < AccessDeadline, $"a guest access took {threads.LongestAccess}");
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task The_whole_life_cycle_completes_under_a_gc_storm_with_guest_threads_faulting()
    {
        using var guest = new GuestFixture(1024, 256);
        guest.Fill(seed: 44);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(16) }, name: "gc-storm");
        using var threads = new GuestThreads(guest, count: 3, seed: 45);
        using var storm = new GcStorm();

        var lifeCycle = RunLifeCycleAsync();
        var finished = await Task.WhenAny(lifeCycle, Task.Delay(TimeSpan.FromSeconds(60)));

        Assert.True(finished == lifeCycle, "the life cycle did not complete within 60 s under a GC storm: a fault or a GC deadlocked");
        await lifeCycle;
        var collections = storm.Stop(Deadline);
        threads.Stop(Deadline);
        _output.WriteLine($"{collections} forced collections, {threads.Accesses} guest accesses, longest {threads.LongestAccess.TotalMilliseconds:F1} ms");
        Assert.True(collections >= 10, $"only {collections} forced GCs ran: the storm did not cover the life cycle");
        Assert.Empty(threads.Errors);
        Assert.True(threads.LongestAccess < AccessDeadline, $"a guest access took {threads.LongestAccess}");
        Assert.Empty(guest.Mismatches());

        async Task RunLifeCycleAsync()
        {
            await storm.WaitForCollectionsAsync(3, Deadline);
            await swap.EnableAsync().WaitAsync(Deadline);
            threads.Start();
            await swap.TrimAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Pending);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Active);

            // Faults with collections in between. Which source serves them depends on timing: a slow
            // trim under the storm lets the threads touch all their pages before swap-out.
            await threads.WaitForAccessesAsync(2000, Deadline);
            var faulted = (await swap.StatusAsync().WaitAsync(Deadline)).Metrics;
            Assert.True(
                faulted.CopiedFromFilePages + faulted.CopiedFromStagingPages + faulted.ZeroedPages > 0,
                "the guest threads never faulted while swap was enabled");
            var before = storm.Collections;
            await storm.WaitForCollectionsAsync(before + 3, Deadline);
            await swap.DisableAsync().WaitAsync(Deadline);
            await WaitForStateAsync(swap, threads, SwapState.Ready);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Guest_threads_faulting_on_swapped_out_pages_while_the_runtime_exits_or_stops_keep_every_page(bool exit)
    {
        // Faults on file pages park on reads; Exit's swap-in, or a stop's, must serve every one.
        using var guest = new GuestFixture(2048);
        guest.Fill(seed: 46);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(16) };
        var swap = SwapController.Start(Sys, guest.Memory, options, name: exit ? "exit-with-parked-faults" : "stop-with-parked-faults");
        using var threads = new GuestThreads(guest, count: 4, seed: 47);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await WaitForStateAsync(swap, threads, SwapState.Active);

        threads.Start();
        await WaitForMetricAsync(swap, threads, m => m.CopiedFromFilePages, 32);
        if (exit)
        {
            await swap.ExitAsync().WaitAsync(Deadline);
        }
        else
        {
            var stopped = swap.Supervisor.WatchAsync();
            swap.Supervisor.Tell(PoisonPill.Instance);
            await stopped.WaitAsync(Deadline);
        }

        await threads.WaitForAccessesAsync(500, Deadline);
        threads.Stop(Deadline);
        Assert.Empty(threads.Errors);
        Assert.True(threads.LongestAccess < AccessDeadline, $"a guest access took {threads.LongestAccess}");
        Assert.Empty(guest.Mismatches());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_swap_out_of_page_sized_writes_ended_by_disable_or_enable_midway_keeps_every_page(bool enable)
    {
        // A page per write: thousands of writes. The guest starts faulting once some are on disk
        // (faulting from the start, it took most pages back from staging before they were
        // written), then the job is aborted between two writes.
        using var guest = new GuestFixture(4096);
        guest.Fill(seed: 48);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.Bytes };
        var swap = SwapController.Start(Sys, guest.Memory, options, name: enable ? "swap-out-aborted-by-enable" : "swap-out-aborted-by-disable");
        using var threads = new GuestThreads(guest, count: 2, seed: 49);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var writing = await WaitForMetricAsync(swap, threads, m => m.SwapPages, 64);
        Assert.Equal(SwapState.SwapOutInProgress, writing.State);
        threads.Start();
        await threads.WaitForAccessesAsync(50, Deadline);

        if (enable)
        {
            await threads.PauseAsync(Deadline);
            await swap.EnableAsync().WaitAsync(Deadline);
            threads.Resume();
            var pending = await WaitForStateAsync(swap, threads, SwapState.Pending);
            Assert.Equal(0, pending.Metrics.SwapPages);
            await swap.DisableAsync().WaitAsync(Deadline);
        }
        else
        {
            await swap.DisableAsync().WaitAsync(Deadline);
        }

        var ready = await WaitForStateAsync(swap, threads, SwapState.Ready);
        Assert.Equal(0, ready.Metrics.SwapPages + ready.Metrics.StagingPages);
        await threads.WaitForAccessesAsync(500, Deadline);
        threads.Stop(Deadline);
        Assert.Empty(threads.Errors);
        Assert.True(threads.LongestAccess < AccessDeadline, $"a guest access took {threads.LongestAccess}");
        Assert.Empty(guest.Mismatches());
    }

    // Polls the status until it reaches state, failing early if a guest thread is stuck in a fault.
    private static async Task<SwapStatus> WaitForStateAsync(SwapController swap, GuestThreads threads, SwapState state)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            threads.ThrowIfStuck();
            var status = await swap.StatusAsync().WaitAsync(Deadline);
            if (status.State == state)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < until, $"vmm-swap did not reach {state} within {Deadline.TotalSeconds} s; it is {status.State}");
            await Task.Delay(5);
        }
    }

    private static async Task<SwapStatus> WaitForMetricAsync(SwapController swap, GuestThreads threads, Func<SwapMetrics, long> metric, long atLeast)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            threads.ThrowIfStuck();
            var status = await swap.StatusAsync().WaitAsync(Deadline);
            if (metric(status.Metrics) >= atLeast)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < until, $"the guest threads did not fault {atLeast} pages within {Deadline.TotalSeconds} s; status {status}");
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Guest threads: thread t owns the pages p with p % count == t and keeps their expected
    /// contents in <see cref="GuestFixture.Expected"/>. Each access reads and checks a page, writes
    /// it whole, or writes a slice of it, always through <see cref="GuestMemory"/>.
    /// </summary>
    private sealed class GuestThreads : IDisposable
    {
        private readonly GuestFixture _guest;
        private readonly Thread[] _threads;
        private readonly long[] _accesses;
        private readonly long[] _accessStarted;
        private readonly long[] _accessPage;
        private readonly int[] _parked;
        private readonly int _seed;
        private readonly ManualResetEventSlim _running = new(true);
        private readonly ConcurrentQueue<string> _errors = new();
        private long _longestTicks;
        private volatile bool _stop;

        internal GuestThreads(GuestFixture guest, int count, int seed)
        {
            _guest = guest;
            _seed = seed;
            _accesses = new long[count];
            _accessStarted = new long[count];
            _accessPage = new long[count];
            _parked = new int[count];
            _threads = new Thread[count];
            for (var t = 0; t < count; t++)
            {
                var index = t;
                _threads[t] = new Thread(() => Run(index)) { IsBackground = true, Name = $"guest thread {t}" };
            }
        }

        internal IReadOnlyCollection<string> Errors => _errors;

        internal long Accesses
        {
            get
            {
                long sum = 0;
                for (var t = 0; t < _accesses.Length; t++)
                {
                    sum += Interlocked.Read(ref _accesses[t]);
                }

                return sum;
            }
        }

        internal TimeSpan LongestAccess => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _longestTicks));

        internal void Start()
        {
            foreach (var thread in _threads)
            {
                thread.Start();
            }
        }

        internal async Task PauseAsync(TimeSpan deadline)
        {
            if (!_threads[0].IsAlive)
            {
                return;
            }

            _running.Reset();
            var until = DateTime.UtcNow + deadline;
            while (!AllParked())
            {
                ThrowIfStuck();
                Assert.True(DateTime.UtcNow < until, "the guest threads did not pause: one is stuck in an access");
                await Task.Delay(1);
            }
        }

        internal void Resume() => _running.Set();

        private bool AllParked()
        {
            for (var t = 0; t < _parked.Length; t++)
            {
                if (Volatile.Read(ref _parked[t]) == 0)
                {
                    return false;
                }
            }

            return true;
        }

        internal async Task WaitForAccessesAsync(long more, TimeSpan deadline)
        {
            var target = Accesses + more;
            var until = DateTime.UtcNow + deadline;
            while (Accesses < target)
            {
                ThrowIfStuck();
                Assert.True(DateTime.UtcNow < until, $"the guest threads made {Accesses} of {target} accesses within {deadline.TotalSeconds} s");
                await Task.Delay(2);
            }
        }

        /// <summary>Fails if a thread has been inside one access for longer than the access deadline.</summary>
        internal void ThrowIfStuck()
        {
            for (var t = 0; t < _threads.Length; t++)
            {
                var started = Interlocked.Read(ref _accessStarted[t]);
                if (started != 0 && Stopwatch.GetElapsedTime(started) > AccessDeadline)
                {
                    throw new TimeoutException($"guest thread {t} has waited over {AccessDeadline.TotalSeconds} s on page {Interlocked.Read(ref _accessPage[t])}: a fault was lost");
                }
            }
        }

        /// <summary>Stops and joins every thread; a thread that does not return is stuck in a fault.</summary>
        internal void Stop(TimeSpan deadline)
        {
            _stop = true;
            _running.Set();
            foreach (var thread in _threads)
            {
                if (thread.IsAlive && !thread.Join(deadline))
                {
                    ThrowIfStuck();
                    throw new TimeoutException($"{thread.Name} did not stop within {deadline.TotalSeconds} s: a fault was lost");
                }
            }
        }

        public void Dispose()
        {
            _stop = true;
            _running.Set();
            foreach (var thread in _threads)
            {
                if (thread.IsAlive)
                {
                    thread.Join(TimeSpan.FromSeconds(1));
                }
            }

            _running.Dispose();
        }

        private void Run(int t)
        {
            var memory = _guest.Memory;
            var count = _threads.Length;
            var owned = (memory.PageCount - t + count - 1) / count;
            var random = new Random(_seed + t);
            var buffer = new byte[PageSize.Bytes];
            var zero = new byte[PageSize.Bytes];
            try
            {
                while (!_stop)
                {
                    if (!_running.IsSet)
                    {
                        Volatile.Write(ref _parked[t], 1);
                        _running.Wait();
                        Volatile.Write(ref _parked[t], 0);
                        continue;
                    }

                    var page = t + (count * random.NextInt64(owned));
                    var address = memory.PageAddress(page);
                    var expected = _guest.Expected[page] ?? zero;
                    var started = Stopwatch.GetTimestamp();
                    Interlocked.Exchange(ref _accessPage[t], page);
                    Interlocked.Exchange(ref _accessStarted[t], started);
                    switch (random.Next(4))
                    {
                        case 0:
                            var content = new byte[PageSize.Bytes];
                            if (random.Next(8) != 0)
                            {
                                random.NextBytes(content);
                            }

                            memory.Write(address, content);
                            _guest.Expected[page] = content;
                            break;
                        case 1:
                            var slice = new byte[1 + random.Next(256)];
                            random.NextBytes(slice);
                            var offset = random.Next(PageSize.Bytes - slice.Length);
                            memory.Write(address + offset, slice);
                            var updated = (byte[])expected.Clone();
                            slice.CopyTo(updated, offset);
                            _guest.Expected[page] = updated;
                            break;
                        default:
                            memory.Read(address, buffer);
                            if (!buffer.AsSpan().SequenceEqual(expected))
                            {
                                _errors.Enqueue($"guest thread {t}: page {page} does not hold what was last written to it");
                            }

                            break;
                    }

                    var ticks = Stopwatch.GetTimestamp() - started;
                    Interlocked.Exchange(ref _accessStarted[t], 0);
                    InterlockedMax(ref _longestTicks, ticks);
                    Interlocked.Increment(ref _accesses[t]);
                }
            }
            catch (Exception e)
            {
                _errors.Enqueue($"guest thread {t}: {e}");
            }
            finally
            {
                Volatile.Write(ref _parked[t], 1);
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            var current = Interlocked.Read(ref target);
            while (value > current)
            {
                var seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }

    /// <summary>One thread forcing blocking gen-2 collections back to back (docs/ARCHITECTURE.md, "GC safety").</summary>
    private sealed class GcStorm : IDisposable
    {
        private readonly Thread _thread;
        private long _collections;
        private volatile bool _stop;

        internal GcStorm()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true);
                    Interlocked.Increment(ref _collections);
                    Thread.Sleep(1);
                }
            })
            { IsBackground = true, Name = "gc storm" };
            _thread.Start();
        }

        internal long Collections => Interlocked.Read(ref _collections);

        internal async Task WaitForCollectionsAsync(long atLeast, TimeSpan deadline)
        {
            var until = DateTime.UtcNow + deadline;
            while (Collections < atLeast)
            {
                Assert.True(DateTime.UtcNow < until, $"only {Collections} of {atLeast} forced collections ran within {deadline.TotalSeconds} s");
                await Task.Delay(1);
            }
        }

        internal long Stop(TimeSpan deadline)
        {
            _stop = true;
            if (!_thread.Join(deadline))
            {
                throw new TimeoutException($"the GC storm thread did not stop within {deadline.TotalSeconds} s");
            }

            return Collections;
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join(TimeSpan.FromSeconds(5));
        }
    }
}
