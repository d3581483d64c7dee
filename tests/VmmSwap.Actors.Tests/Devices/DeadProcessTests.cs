using VmmSwap.Actors.Hosting;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

public sealed class DeadProcessTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task A_forked_process_that_died_is_dropped_and_enable_still_works()
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 60, stride: 2);
        using var child = ForeignUserfaultfd.Create(guest.Mappings);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "dead-child");
        Assert.Equal(CommandOutcome.Accepted, (await swap.ProcessForkedAsync(child.Uffd)).Outcome);

        // The child exits: registering the guest with its userfaultfd now fails (ENOMEM), which is not fatal.
        child.KillOwner();
        var enabled = await swap.EnableAsync();

        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        Assert.Equal(guest.Expected[2], guest.ReadPage(2));
        await swap.DisableAsync();
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }
}
