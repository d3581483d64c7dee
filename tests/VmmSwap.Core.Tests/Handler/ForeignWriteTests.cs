namespace VmmSwap.Core.Tests.Handler;

/// <summary>
/// Guest pages written behind the handler, through the guest memfd, as a process whose mapping is
/// not registered would: what is in the guest is the newest, and nothing is counted twice.
/// </summary>
public sealed class ForeignWriteTests
{
    private static int Page => SwapHarness.Page;

    [Fact]
    public void A_page_another_process_put_in_the_guest_meanwhile_counts_as_in_and_is_kept()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, Content(p, version: 1));
        }

        // Pages 0-7 end in the swap file, 8-15 in staging.
        swap.Enable();
        swap.SwapOutAll();
        for (var p = 8; p < 16; p++)
        {
            swap.Write(p, Content(p, version: 1));
        }

        swap.Enable();

        // A process whose mapping is not registered writes a swapped page (5) and a staged one
        // (12): the guest memfd gets them directly, behind the handler.
        var region = swap.Guest.Regions[0];
        var newer5 = Content(5, version: 2);
        var newer12 = Content(12, version: 2);
        Native.Files.FileOps.WriteAll(region.MemFd, newer5, region.MemFdOffset + (5 * Page));
        Native.Files.FileOps.WriteAll(region.MemFd, newer12, region.MemFdOffset + (12 * Page));

        Assert.Equal(16, swap.SwapIn());
        Assert.Equal(2, swap.Metrics().RedundantPages);
        Assert.Equal(newer5, swap.Read(5));
        Assert.Equal(newer12, swap.Read(12));
        Assert.Equal(Content(4, version: 1), swap.Read(4));
        Assert.Equal(Content(13, version: 1), swap.Read(13));
    }

    [Fact]
    public void A_page_written_behind_the_handler_while_swapped_is_staged_once_at_the_next_enable()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, Content(p, version: 1));
        }

        swap.Enable();
        swap.SwapOutAll();
        var region = swap.Guest.Regions[0];
        var newer = Content(9, version: 2);
        Native.Files.FileOps.WriteAll(region.MemFd, newer, region.MemFdOffset + (9 * Page));

        swap.Enable();

        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.StagingPages);
        Assert.Equal(15, metrics.SwapPages);
        Assert.Equal(newer, swap.Read(9));
        swap.Disable();
        Assert.Equal(newer, swap.Read(9));
        Assert.Equal(Content(8, version: 1), swap.Read(8));
    }

    private static byte[] Content(long page, int version)
    {
        var bytes = new byte[Page];
        new Random((int)(page * 31 + version)).NextBytes(bytes);
        return bytes;
    }
}
