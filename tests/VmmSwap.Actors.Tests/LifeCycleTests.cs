using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests;

public sealed class LifeCycleTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task Enable_trim_swap_out_fault_and_disable_keep_every_page_intact()
    {
        using var guest = new GuestFixture(300, 212);
        guest.Fill(seed: 7);
        var swap = SwapController.Start(Sys, guest.Memory, Options());

        var enabled = await swap.EnableAsync();
        Assert.Equal(CommandOutcome.Accepted, enabled.Outcome);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(guest.WrittenPages, enabled.Status.StateTransition.Pages);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        Assert.Equal(0, enabled.Status.Metrics.ResidentPages);

        // Guest touches a few pages: served from staging.
        Assert.Equal(guest.Expected[1], guest.ReadPage(1));
        Assert.Equal(guest.Expected[400], guest.ReadPage(400));

        Assert.Equal(CommandOutcome.Accepted, (await swap.TrimAsync()).Outcome);
        var trimmed = await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.Equal(2, trimmed.Metrics.CopiedFromStagingPages);

        Assert.Equal(CommandOutcome.Accepted, (await swap.SwapOutAsync()).Outcome);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(0, active.Metrics.StagingPages);
        Assert.Equal(active.StateTransition.Pages, active.Metrics.SwapPages);
        Assert.True(active.Metrics.SwapPages > 0);

        Assert.Equal(guest.Expected[2], guest.ReadPage(2));
        var faulted = await swap.StatusAsync();
        Assert.Equal(1, faulted.Metrics.CopiedFromFilePages);

        Assert.Equal(CommandOutcome.Accepted, (await swap.DisableAsync()).Outcome);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Equal(Core.SwapMetrics.Empty, ready.Metrics);
        Assert.Empty(guest.Mismatches());

        var exit = await swap.ExitAsync();
        Assert.Equal(CommandOutcome.Accepted, exit.Outcome);
    }
}
