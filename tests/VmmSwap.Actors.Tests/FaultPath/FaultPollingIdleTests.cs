using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.FaultPath;

/// <summary>Tests that read every fault thread's CPU time in the process, so no other test's faults may run beside them.</summary>
[CollectionDefinition(nameof(FaultThreadCpuCollection), DisableParallelization = true)]
public sealed class FaultThreadCpuCollection;

/// <summary>
/// With polling at its longest allowed window, a guest that stops faulting costs the fault
/// thread at most one window: it then sleeps in epoll, and nothing wakes it while the guest is idle.
/// </summary>
[Collection(nameof(FaultThreadCpuCollection))]
public sealed class FaultPollingIdleTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly VmmSwapOptions Polling = new() { PageWorkerCount = 2, FaultPollMax = TimeSpan.FromMilliseconds(10) };

    private readonly ITestOutputHelper _output;

    /// <summary>A test kit whose actor system polls for up to the longest window allowed.</summary>
    public FaultPollingIdleTests(ITestOutputHelper output)
        : base(ConfigurationFactory.ParseString("akka.loglevel = INFO").WithFallback(VmmSwapConfig.For(Polling)), "vmm-swap-poll-test", output)
    {
        _output = output;
    }

    // USER_HZ is 100 on Linux: /proc's CPU times count 10 ms ticks.
    private const double MillisecondsPerTick = 10;

    [Fact]
    public async Task After_a_burst_of_faults_an_idle_guest_costs_the_fault_thread_no_more_than_one_poll_window()
    {
        using var guest = new GuestFixture(2048);
        guest.Fill(seed: 41);
        var swap = SwapController.Start(Sys, guest.Memory, Polling, name: "poll-idle");
        await swap.EnableAsync().WaitAsync(SwapTestKit.Deadline);

        for (long page = 0; page < guest.Memory.PageCount; page++)
        {
            Assert.Equal(guest.Expected[page], guest.ReadPage(page));
        }

        var busy = FaultThreadTicks();
        await Task.Delay(TimeSpan.FromSeconds(2));
        var idle = FaultThreadTicks() - busy;

        _output.WriteLine($"fault threads: {busy * MillisecondsPerTick} ms over the burst, {idle * MillisecondsPerTick} ms over 2 s idle");
        Assert.True(busy > 0, "the fault thread used no CPU serving 2048 faults: it is not the thread measured");
        Assert.True(idle * MillisecondsPerTick <= 40, $"the fault threads used {idle * MillisecondsPerTick} ms of CPU in 2 s while the guest was idle");
        await swap.DisableAsync().WaitAsync(SwapTestKit.Deadline);
    }

    // utime + stime of every fault pump thread in this process (the thread's name, cut to 15 bytes).
    private static long FaultThreadTicks()
    {
        long ticks = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string comm, stat;
            try
            {
                comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue;
            }

            if (comm.StartsWith("vmm-swap fault", StringComparison.Ordinal))
            {
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return ticks;
    }
}
