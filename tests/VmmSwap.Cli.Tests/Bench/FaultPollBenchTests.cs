using Akka.Actor;
using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Bench;

namespace VmmSwap.Cli.Tests.Bench;

/// <summary>The bench's --fault-poll-max and the fault thread's CPU it reports. Timings are never asserted.</summary>
public sealed class FaultPollBenchTests
{
    [Theory]
    [InlineData("10001")]
    [InlineData("-1")]
    public async Task Bench_refuses_a_fault_poll_max_outside_0_to_10000_microseconds(string value)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BenchCommand.Create(stdout, stderr).Parse(["--fault-poll-max", value]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(BenchCommand.ExitBadInput, exit);
        Assert.Contains($"--fault-poll-max must be 0 to 10000 (microseconds; 0: polling off), got {value}", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_runtime_runs_with_the_window_given_or_its_default()
    {
        var defaults = new VmmSwapOptions();
        Assert.Equal(TimeSpan.Zero, Options(0).RuntimeOptions().FaultPollMax);
        Assert.Equal(TimeSpan.FromMilliseconds(10), Options(10_000).RuntimeOptions().FaultPollMax);
        Assert.Equal(defaults.FaultPollMax, Options(null).RuntimeOptions().FaultPollMax);
        Assert.Equal(defaults.FaultReadPages, Options(0).RuntimeOptions().FaultReadPages);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public async Task A_tiny_fault_latency_pass_reports_the_fault_threads_CPU_faulting_and_idle(int pollUs)
    {
        var options = Options(pollUs).RuntimeOptions();
        var config = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF").WithFallback(VmmSwapConfig.For(options));
        using var system = ActorSystem.Create("fault-poll-bench-test", config);
        try
        {
            var round = new OurRound();
            await new OurRuntime(system, options).LifeCycleAsync(16, round, CancellationToken.None);

            Assert.Equal(6, round.Faults.Count);
            var faulting = round.FaultThreadCpu;
            Assert.True(faulting.Wall > TimeSpan.Zero, faulting.ToString());
            Assert.True(faulting.Cpu >= TimeSpan.Zero && faulting.MsPerSecond >= 0, faulting.ToString());

            // Serving 1,536 faults takes the fault thread some CPU: with schedstat's nanoseconds a 0
            // would mean the thread was not found; stat's 10 ms ticks may round it away.
            Assert.True(!FaultThreadCpu.HasSchedstat || faulting.Cpu > TimeSpan.Zero, faulting.ToString());

            var idle = round.IdleFaultThreadCpu;
            Assert.True(idle.Wall >= BenchOptions.IdleGuest, idle.ToString());
            Assert.True(idle.Cpu >= TimeSpan.Zero && idle.MsPerSecond >= 0, idle.ToString());
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static BenchOptions Options(int? pollUs) => new([16], 1, Path.GetTempPath(), Json: false, FaultPollMaxUs: pollUs);
}
