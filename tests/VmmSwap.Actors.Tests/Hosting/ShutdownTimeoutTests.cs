using Akka.Actor;
using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Hosting;

/// <summary>
/// vmm-swap.shutdown-timeout: how long the actor system's shutdown waits for vmm-swap to swap every
/// page back in, as the timeout of the coordinated-shutdown phase vmm-swap exits in.
/// </summary>
public sealed class ShutdownTimeoutTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private const string Phase = CoordinatedShutdown.PhaseBeforeActorSystemTerminate;

    [Fact]
    public void The_option_comes_from_hocon_and_defaults_to_ten_minutes()
    {
        Assert.Equal(TimeSpan.FromMinutes(10), new VmmSwapOptions().ShutdownTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), VmmSwapOptions.FromConfig(Config.Empty).ShutdownTimeout);
        Assert.Equal(TimeSpan.FromMinutes(45), VmmSwapOptions.FromConfig(ConfigurationFactory.ParseString("vmm-swap.shutdown-timeout = 45m")).ShutdownTimeout);
    }

    [Fact]
    public async Task The_runtimes_config_gives_the_phase_vmm_swap_exits_in_the_shutdown_timeout()
    {
        using var system = ActorSystem.Create("shutdown-timeout", VmmSwapConfig.For(new VmmSwapOptions { ShutdownTimeout = TimeSpan.FromMinutes(42) }));

        Assert.Equal(TimeSpan.FromMinutes(42), CoordinatedShutdown.Get(system).Timeout(Phase));
        await system.Terminate().WaitAsync(Deadline);
    }

    [Fact]
    public void A_phase_timeout_shorter_than_the_shutdown_timeout_is_a_warning_naming_both_keys()
    {
        using var guest = new GuestFixture(16);

        // This system's config gives the phase the default 10 minutes.
        EventFilter.Warning(contains: $"akka.coordinated-shutdown.phases.{Phase}.timeout").ExpectOne(() =>
            SwapController.Start(Sys, guest.Memory, Options() with { ShutdownTimeout = TimeSpan.FromMinutes(20) }, name: "longer-than-the-phase"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void A_shutdown_timeout_that_is_not_positive_is_refused_naming_the_option(long seconds)
    {
        var error = Assert.Throws<ArgumentException>(new VmmSwapOptions { ShutdownTimeout = TimeSpan.FromSeconds(seconds) }.Validated);

        Assert.Contains("shutdown-timeout", error.Message, StringComparison.Ordinal);
    }
}
