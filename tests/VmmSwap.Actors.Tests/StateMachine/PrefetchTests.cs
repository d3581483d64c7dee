using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// Prefetch: the working set (the pages the guest faulted) comes back into the guest while swap
/// stays enabled; any command that changes the state stops it first; every page stays as written.
/// </summary>
public sealed class PrefetchTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private const int Pages = 256;
    private static readonly long[] Touched = [3, 4, 5, 77, 128, 200, 201, 255];

    // Prefetch needs the working set recorded, which is off by default.
    private static VmmSwapOptions Recording => Options() with { WorkingSetFirst = true };

    [Fact]
    public async Task Prefetch_in_active_brings_the_working_set_back_and_swap_stays_enabled()
    {
        using var guest = new GuestFixture(Pages);
        guest.Fill(seed: 61);
        var swap = SwapController.Start(Sys, guest.Memory, Recording, name: "prefetch-active");
        await SwappedOutWithWorkingSet(swap, guest);

        var reply = await swap.PrefetchAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, reply.Outcome);
        var fetched = await WaitForAsync(swap, s => s.Metrics.SwapPages == Pages - Touched.Length);
        Assert.Equal(SwapState.Active, fetched.State);
        Assert.Equal(Touched.Length, fetched.Metrics.ResidentPages);
        foreach (var page in Touched)
        {
            Assert.Equal(guest.Expected[page], guest.ReadPage(page));
        }

        // Served without a fault: the pages were already in.
        Assert.Equal(0, (await swap.StatusAsync().WaitAsync(Deadline)).Metrics.CopiedFromFilePages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Prefetch_in_pending_brings_the_working_set_back_from_staging()
    {
        using var guest = new GuestFixture(Pages);
        guest.Fill(seed: 62);
        var swap = SwapController.Start(Sys, guest.Memory, Recording, name: "prefetch-pending");
        await swap.EnableAsync().WaitAsync(Deadline);
        foreach (var page in Touched)
        {
            Assert.Equal(guest.Expected[page], guest.ReadPage(page));
        }

        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.PrefetchAsync().WaitAsync(Deadline);

        var fetched = await WaitForAsync(swap, s => s.Metrics.StagingPages == Pages - Touched.Length);
        Assert.Equal(SwapState.Pending, fetched.State);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Disable_during_a_prefetch_stops_it_and_swaps_everything_in()
    {
        using var guest = new GuestFixture(Pages);
        guest.Fill(seed: 63);
        var swap = StartPaused(guest.Memory, Recording, name: "prefetch-then-disable");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        foreach (var page in Touched)
        {
            guest.ReadPage(page);
        }

        Assert.Equal(CommandOutcome.Accepted, (await swap.PrefetchAsync().WaitAsync(Deadline)).Outcome);
        Assert.Equal("prefetch is already in progress", (await swap.PrefetchAsync().WaitAsync(Deadline)).Reason);
        Assert.Equal(CommandOutcome.Ignored, (await swap.TrimAsync().WaitAsync(Deadline)).Outcome);

        var disable = swap.DisableAsync();
        await WaitForAsync(swap, s => s.State == SwapState.SwapInInProgress);
        ResumeJobs(swap);
        Assert.Equal(CommandOutcome.Accepted, (await disable.WaitAsync(Deadline)).Outcome);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Prefetch_is_ignored_while_disabled_and_refused_without_a_working_set_as_by_default()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 64);
        var swap = SwapController.Start(Sys, guest.Memory, Recording, name: "prefetch-ready");
        Assert.Equal(CommandOutcome.Ignored, (await swap.PrefetchAsync().WaitAsync(Deadline)).Outcome);

        var unrecorded = SwapController.Start(Sys, guest.Memory, Options(), name: "prefetch-no-working-set");
        await swap.ExitAsync().WaitAsync(Deadline);
        await unrecorded.EnableAsync().WaitAsync(Deadline);
        var refused = await Assert.ThrowsAsync<SwapCommandException>(() => unrecorded.PrefetchAsync().WaitAsync(Deadline));
        Assert.Contains("working-set-first = on", refused.Message, StringComparison.Ordinal);
        await unrecorded.DisableAsync().WaitAsync(Deadline);
        await unrecorded.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    // The guest faults its working set out of the file, then everything goes out again.
    private static async Task SwappedOutWithWorkingSet(SwapController swap, GuestFixture guest)
    {
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        foreach (var page in Touched)
        {
            Assert.Equal(guest.Expected[page], guest.ReadPage(page));
        }

        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(Pages, active.Metrics.SwapPages);
    }

    private static async Task<SwapStatus> WaitForAsync(SwapController swap, Func<SwapStatus, bool> condition)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var status = await swap.StatusAsync().WaitAsync(Deadline);
            if (condition(status))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < until, $"the status never met the condition; last {status}");
            await Task.Delay(10);
        }
    }
}
