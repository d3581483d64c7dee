using Akka.Actor;
using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

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

    [Fact]
    public async Task A_swap_out_job_that_dies_leaves_vmm_swap_failed_and_every_page_intact_through_the_next_cycle()
    {
        using var guest = new GuestFixture(4096);
        guest.Fill(seed: 31);
        var options = Options() with { SwapChunkBytes = (ulong)Core.Pages.PageSize.PagesToBytes(4) };
        var swap = StartPaused(guest.Memory, options, name: "dying-job");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);

        // Let some chunks complete (their staging frees are deferred to the job's next work), then kill the job.
        ResumeJobs(swap);
        var until = DateTime.UtcNow + Deadline;
        while ((await swap.StatusAsync()).StateTransition.Pages == 0)
        {
            Assert.True(DateTime.UtcNow < until, "the swap-out made no progress");
        }

        Sys.ActorSelection(swap.Supervisor.Path / "swapout-*").Tell(Kill.Instance);
        var failed = await swap.WaitForStateAsync(SwapState.Failed, Deadline);
        Assert.Equal(SwapState.Failed, failed.State);
        Assert.Contains("stopped unexpectedly", failed.Error, StringComparison.Ordinal);

        // Pages written out come back from the file; Enable stages them again at the same slots,
        // where a free left over from the dead job would wipe them.
        Assert.Empty(guest.Mismatches());
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        Assert.Equal(SwapState.Active, (await swap.WaitForStateAsync(SwapState.Active, Deadline)).State);
        Assert.Empty(guest.Mismatches());
        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        Assert.Equal(SwapState.Ready, (await swap.WaitForStateAsync(SwapState.Ready, Deadline)).State);
        Assert.Empty(guest.Mismatches());
    }
}
