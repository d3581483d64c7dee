using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests;

/// <summary>A TestKit with the vmm-swap configuration loaded.</summary>
public abstract class SwapTestKit(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(
        ConfigurationFactory.ParseString("akka.loglevel = INFO").WithFallback(VmmSwapConfig.For(new VmmSwapOptions())),
        "vmm-swap-test",
        output)
{
    internal static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    internal static VmmSwapOptions Options(bool paused = false) => new() { StartJobsPaused = paused, PageWorkerCount = 2 };
}
