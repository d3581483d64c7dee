using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using static VmmSwap.Core.Tests.Support.ParkedPages;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// File faults parked on reads off the fault thread (real userfaultfd, real swap file): the fault
/// thread goes on serving other faults while a page is read, a page is read once however many
/// faults wait for it, and a fault whose page is removed, staged and written again, or swapped
/// in while its read runs is served what the page holds now, never the bytes read before.
/// </summary>
public sealed class ParkedFaultTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Blocked = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Staging_and_zero_faults_are_served_while_a_file_fault_waits_for_its_read()
    {
        using var swap = SwappedOut(pages: 16, written: 8);
        swap.Write(10, Page(10));
        swap.Enable();

        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();

        Assert.Equal(new PageRange(0, 8), read.Window);
        Assert.Equal(Page(10), swap.Read(10));
        Assert.Equal(new byte[PageSize.Bytes], swap.Read(15));
        await Task.Delay(Blocked);
        Assert.False(parked.IsCompleted, "the file fault was served before its read ran");

        read.Execute();
        swap.FinishRead(read, succeeded: true);

        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.CopiedFromFilePages);
        Assert.Equal(1, metrics.CopiedFromStagingPages);
        Assert.Equal(1, metrics.ZeroedPages);
    }

    [Fact]
    public async Task A_neighbour_read_along_with_a_fault_is_served_from_that_read_without_another()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var first = ReadOnThread(swap, 3);
        var read = swap.TakeRead();
        read.Execute();
        swap.FinishRead(read, succeeded: true);
        Assert.Equal(Page(3), await first.WaitAsync(Deadline));

        Assert.Equal(Page(6), swap.Read(6));

        Assert.Equal(0, swap.QueuedReads);
        Assert.Equal(2, swap.Metrics().CopiedFromFilePages);
    }

    [Fact]
    public async Task Faults_on_a_page_being_read_and_on_its_neighbours_all_wait_for_that_one_read()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var faults = new[] { 3L, 3, 5 }.Select(p => ReadOnThread(swap, p)).ToArray();
        var read = swap.TakeRead();
        WaitFor(() => swap.EventsHandled >= 3, "three fault events");

        Assert.Equal(0, swap.QueuedReads);
        await Task.Delay(Blocked);
        Assert.All(faults, f => Assert.False(f.IsCompleted));

        read.Execute();
        swap.FinishRead(read, succeeded: true);

        Assert.Equal(Page(3), (await faults[0].WaitAsync(Deadline)));
        Assert.Equal(Page(3), (await faults[1].WaitAsync(Deadline)));
        Assert.Equal(Page(5), (await faults[2].WaitAsync(Deadline)));
        Assert.Equal(0, swap.QueuedReads);
    }

    [Fact]
    public async Task A_page_removed_while_its_read_runs_is_served_as_a_zero_page()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();
        read.Execute();

        swap.Remove(3, 1);
        swap.FinishRead(read, succeeded: true);

        Assert.Equal(new byte[PageSize.Bytes], await parked.WaitAsync(Deadline));
        Assert.Equal(Page(4), swap.Read(4));
    }

    [Fact]
    public async Task A_page_staged_and_written_out_again_while_its_old_read_waits_is_served_its_new_bytes()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var parked = ReadOnThread(swap, 3);
        var stale = swap.TakeRead();
        stale.Execute();

        // A process whose mapping is not registered writes the page (here through the memfd), then
        // Enable stages it and a swap-out writes its new bytes to the slot the read had read.
        var region = swap.Guest.Regions[0];
        FileOps.WriteAll(region.MemFd, Page(1003), region.MemFdOffset + (3 * PageSize.Bytes));
        swap.Locked(h => h.MoveToStaging(region.HostAddress)).Batches.ToList().ForEach(b => b.Execute());
        swap.SwapOutAll();

        swap.FinishRead(stale, succeeded: true);
        var fresh = swap.TakeRead();
        Assert.Contains(3L, Enumerable.Range((int)fresh.Window.Start, (int)fresh.Window.Count).Select(i => (long)i));
        fresh.Execute();
        swap.FinishRead(fresh, succeeded: true);

        Assert.Equal(Page(1003), await parked.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_fault_parked_when_swap_in_brings_its_page_back_is_woken_by_disable()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();

        swap.Disable();

        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
        Assert.True(read.CancelOrWait(TimeSpan.Zero), "Disable left the read to run after the page state went");
    }

    [Fact]
    public async Task A_failed_read_leaves_its_faults_to_read_the_file_on_the_fault_thread()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();

        swap.FinishRead(read, succeeded: false);

        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
        Assert.Equal(0, swap.QueuedReads);
        Assert.Equal(1, swap.Metrics().CopiedFromFilePages);
    }

    [Fact]
    public async Task With_no_read_pages_a_file_fault_is_served_on_the_fault_thread_as_before()
    {
        using var swap = SwapHarness.Parking(0, false, 16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, Page(p));
        }

        swap.Enable();
        swap.SwapOutAll();

        Assert.Equal(Page(3), swap.Read(3));
        Assert.Equal(0, swap.QueuedReads);
    }

    [Fact]
    public async Task A_page_in_the_page_cache_is_served_without_a_read()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        var file = swap.Locked(h => h.File);
        var buffer = new byte[PageSize.Bytes];
        FileOps.ReadExactly(file.Fd, buffer, 3L * PageSize.Bytes);

        Assert.Equal(Page(3), swap.Read(3));
        Assert.Equal(0, swap.QueuedReads);
    }
}
