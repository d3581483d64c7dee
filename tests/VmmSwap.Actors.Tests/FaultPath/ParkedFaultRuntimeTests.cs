using Akka.Event;
using VmmSwap.Core.Pages;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.FaultPath;

/// <summary>
/// A command or a guest event meeting a file fault that is known to be parked on its read (the
/// runtime's fault reads held by a <see cref="Workers.FaultReadGate"/>; docs/ARCHITECTURE.md, "A
/// file fault that needs the disk"): the parked thread gets the page's bytes as they are when it
/// is served, the runtime ends in the state the command leads to, and no page of the guest is lost.
/// </summary>
public sealed class ParkedFaultRuntimeTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_enable_while_a_fault_is_parked_restages_and_the_fault_gets_its_page_when_its_read_runs(bool ioUring)
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-enable", seed: 91, ioUring);
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_exit_while_a_fault_is_parked_serves_it_without_its_read_and_stops(bool ioUring)
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-exit", seed: 92, ioUring);
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_device_process_detached_while_its_fault_is_parked_reads_the_guest_page_and_loses_none(bool ioUring)
    {
        ForeignUserfaultfd? child = null;
        using var parked = await ParkedGuest.StartAsync(this, "parked-detach", seed: 93, ioUring, attach: async guest => child = await AttachChildAsync(guest));
        using var owned = child!;
        var page = parked.FilePage(10);
        var childRead = await ParkChildReadAsync(parked, child!, page);

        Assert.Equal(CommandOutcome.Accepted, (await parked.Swap.DetachProcessAsync(child!.Pid).WaitAsync(Deadline)).Outcome);

        // The runtime had read its fault before the detach: the thread blocked in it finishes the
        // read it began with the guest's page, not with the memfd's hole (which a read would fill
        // with a zero page, hiding the page from the guest too), and reads it so again.
        Assert.Equal(parked.Guest.ExpectedHash(page), await childRead.WaitAsync(Deadline));
        Assert.Equal(parked.Guest.ExpectedHash(page), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(page)));
        Assert.Equal(SwapState.Active, (await parked.Swap.StatusAsync().WaitAsync(Deadline)).State);
        child.KillOwner();

        parked.Reads.Open();
        Assert.Equal(parked.Guest.Expected[page], parked.Guest.ReadPage(page));
        await parked.Swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await parked.Swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(parked.Guest.Mismatches());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_device_process_that_exits_while_its_fault_is_parked_is_detached_and_the_guest_still_gets_the_page(bool ioUring)
    {
        ForeignUserfaultfd? child = null;
        using var parked = await ParkedGuest.StartAsync(this, "parked-child-exit", seed: 94, ioUring, attach: async guest => child = await AttachChildAsync(guest));
        using var owned = child!;
        var page = parked.FilePage(10);
        var childRead = await ParkChildReadAsync(parked, child!, page);
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Info));

        child!.KillOwner();
        await logs.FishForMessageAsync(m => m is Info i && $"{i.Message}".Contains($"device process {child.Pid} has exited", StringComparison.Ordinal), Deadline);
        await Assert.ThrowsAnyAsync<Exception>(() => childRead.WaitAsync(Deadline));

        // The host's own fault on the page waits for the read still held, and gets the page from
        // it: no second read is asked for.
        var hostRead = ParkedGuest.GuestRead.Start(parked.Guest.Memory, parked.Guest.Memory.PageAddress(page));
        await ParkedGuest.WaitForChannelAsync(() => hostRead.WaitChannel, $"the guest thread reading page {page}");
        parked.Reads.Open();
        Assert.Equal(parked.Guest.Expected[page], await hostRead.Result.WaitAsync(Deadline));
        Assert.Equal(1, parked.Reads.Arrived);
        Assert.Equal(SwapState.Active, (await parked.Swap.StatusAsync().WaitAsync(Deadline)).State);

        await parked.Swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await parked.Swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(parked.Guest.Mismatches());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_page_removed_while_its_fault_is_parked_is_served_as_a_zero_page(bool ioUring)
    {
        using var parked = await ParkedGuest.StartAsync(this, "parked-remove", seed: 95, ioUring);
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

    // The child reads the page through its own mapping and userfaultfd; returns once that fault is
    // parked on a held read and the child's only thread waits in the fault handler.
    private static async Task<Task<string>> ParkChildReadAsync(ParkedGuest parked, ForeignUserfaultfd child, long page)
    {
        var address = child.MappedAt[0] + (nint)PageSize.PagesToBytes(page);
        var read = Task.Factory.StartNew(() => child.ReadPage(address), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(parked.Reads.WaitForArrived(1, Deadline), $"no fault read was asked for page {page}: the child's fault was not parked");
        await ParkedGuest.WaitForChannelAsync(() => ParkedGuest.WaitChannel(child.Pid, child.Pid), $"device process {child.Pid}");
        Assert.False(read.IsCompleted, "the child's parked read returned before its read ran");
        Assert.Equal(0, (await parked.Swap.StatusAsync().WaitAsync(Deadline)).Metrics.CopiedFromFilePages);
        return read;
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

    // A device process mapping the guest wherever its kernel puts it, attached without freeze.
    private static async Task<ForeignUserfaultfd> AttachChildAsync(ParkedGuest guest)
    {
        var child = ForeignUserfaultfd.Create(guest.Guest.Mappings.Select(m => (m.MemFd, m.Offset, (nint)0, m.Size)));
        await guest.Swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: false).WaitAsync(Deadline);
        return child;
    }
}
