using VmmSwap.Core.Pages;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests;

/// <summary>
/// A command or a guest event meeting a file fault that is known to be parked on its read (the
/// runtime's fault reads held by a <see cref="Workers.FaultReadGate"/>; docs/ARCHITECTURE.md, "A
/// file fault that needs the disk"): the parked thread gets the page's bytes as they are when it
/// is served, the runtime ends in the state the command leads to, and no page of the guest is lost.
/// </summary>
public sealed class ParkedFaultRuntimeTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task An_enable_while_a_fault_is_parked_restages_and_the_fault_gets_its_page_when_its_read_runs()
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-enable", seed: 91);
        var page = parked.FilePage(10);
        var read = await parked.ParkAsync(page);

        // The re-stage neither needs the parked fault nor serves it: its page stays in the file.
        var enabled = await parked.Swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(ParkedGuest.FaultWaitChannel, read.WaitChannel);

        parked.Reads.Open();
        Assert.Equal(parked.Guest.Expected[page], await read.Result.WaitAsync(Deadline));
        Assert.Equal(SwapState.Pending, (await parked.Swap.StatusAsync().WaitAsync(Deadline)).State);

        await parked.Swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await parked.Swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(parked.Guest.Mismatches());
    }

    [Fact]
    public async Task An_exit_while_a_fault_is_parked_serves_it_without_its_read_and_stops()
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-exit", seed: 92);
        var page = parked.FilePage(10);
        var read = await parked.ParkAsync(page);
        Watch(parked.Swap.Supervisor);

        // The read stays held: Exit's swap-in brings the page back, and closing the reads serves it.
        var exit = await parked.Swap.ExitAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, exit.Outcome);
        Assert.Equal(SwapState.Ready, exit.Status.State);
        Assert.Equal(parked.Guest.Expected[page], await read.Result.WaitAsync(Deadline));
        await ExpectTerminatedAsync(parked.Swap.Supervisor, Deadline);
        await Assert.ThrowsAsync<SwapRuntimeStoppedException>(() => parked.Swap.StatusAsync().WaitAsync(Deadline));
        Assert.Empty(parked.Guest.Mismatches());
    }

    [Fact]
    public async Task A_page_removed_while_its_fault_is_parked_is_served_as_a_zero_page()
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-remove", seed: 95);
        var page = parked.FilePage(10);
        var read = await parked.ParkAsync(page);
        var inFile = (await parked.Swap.StatusAsync().WaitAsync(Deadline)).Metrics.SwapPages;

        // A balloon gives the page back while its thread waits; the madvise returns once the
        // runtime has read the remove, and the page leaves the swap file when it is handled.
        Assert.True(Blocking.RunOnThread(() => parked.Guest.Memory.Remove(parked.Guest.Memory.PageAddress(page), (ulong)PageSize.Bytes), Deadline), "MADV_REMOVE did not return");
        parked.Guest.Expected[page] = null;
        await AwaitAsync(async () => (await parked.Swap.StatusAsync().WaitAsync(Deadline)).Metrics.SwapPages == inFile - 1, "the removed page to leave the swap file");
        Assert.Equal(ParkedGuest.FaultWaitChannel, read.WaitChannel);

        parked.Reads.Open();
        Assert.Equal(new byte[PageSize.Bytes], await read.Result.WaitAsync(Deadline));
        var active = await parked.Swap.StatusAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.Active, active.State);
        Assert.Equal(0, active.Metrics.CopiedFromFilePages);

        await parked.Swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await parked.Swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(parked.Guest.Mismatches());
    }

    private static async Task AwaitAsync(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, $"waited {Deadline.TotalSeconds} s for {what}");
            await Task.Delay(5);
        }
    }
}
