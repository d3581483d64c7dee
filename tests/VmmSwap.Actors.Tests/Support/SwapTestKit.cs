using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Jobs;
using VmmSwap.Actors.Workers;
using VmmSwap.Core.Guest;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>A TestKit with the vmm-swap configuration loaded.</summary>
public abstract class SwapTestKit(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(
        ConfigurationFactory.ParseString("akka.loglevel = INFO").WithFallback(VmmSwapConfig.For(new VmmSwapOptions())),
        "vmm-swap-test",
        output)
{
    internal static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static readonly ConditionalWeakTable<IActorRef, JobStartGate> Gates = [];

    internal static VmmSwapOptions Options() => new() { PageWorkerCount = 2 };

    /// <summary>
    /// Starts a supervisor as <see cref="SwapController.Start"/> does, whose jobs wait before their
    /// first chunk until <see cref="SwapTestKit.ResumeJobs"/>: each InProgress state holds until then.
    /// </summary>
    internal SwapController StartPaused(GuestMemory guest, VmmSwapOptions options, string name)
    {
        var gate = new JobStartGate();
        var supervisor = SupervisorStarter.Start(Sys, guest, options, name, gate);
        ExitOnShutdown.Register(Sys, supervisor, options);
        Gates.Add(supervisor, gate);
        return new SwapController(supervisor);
    }

    /// <summary>
    /// Starts a supervisor as <see cref="SwapController.Start"/> does, whose fault reads wait before
    /// they start until the returned gate opens (disposing it opens it): a file fault that needs the
    /// disk stays parked until then.
    /// </summary>
    internal (SwapController Swap, FaultReadGate Reads) StartHoldingReads(GuestMemory guest, VmmSwapOptions options, string name)
    {
        var reads = new FaultReadGate();
        var supervisor = SupervisorStarter.Start(Sys, guest, options, name, readGate: reads);
        ExitOnShutdown.Register(Sys, supervisor, options);
        return (new SwapController(supervisor), reads);
    }

    /// <summary>Lets the jobs of a supervisor from <see cref="StartPaused"/> started so far run.</summary>
    internal static void ResumeJobs(SwapController swap) =>
        (Gates.TryGetValue(swap.Supervisor, out var gate) ? gate : throw new InvalidOperationException("not started with StartPaused")).Release();
}
