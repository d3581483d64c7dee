namespace VmmSwap.Core.Tests;

/// <summary>
/// A swap-in's read buffers hold the file's bytes as they were when read: once that swap-in is
/// over (finished, aborted, or simply abandoned by a job that died), they must never serve a fault.
/// </summary>
public sealed class SwapInContextLifetimeTests
{
    private static int Page => SwapHarness.Page;

    [Fact]
    public void An_abandoned_swap_in_never_serves_a_fault_after_the_file_is_rewritten()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, Content(p, version: 1));
        }

        swap.Enable();
        Assert.Equal(16, swap.SwapOutAll());

        // A swap-in reads its first window and copies one page, then its job goes away without Dispose.
        swap.Locked(handler =>
        {
            var abandoned = handler.StartSwapIn();
            var read = abandoned.PlanRead((ulong)(16 * Page))!;
            read.Execute();
            abandoned.Loaded(read);
            return abandoned.CopyStep(swap.Uffd, (ulong)Page);
        });

        var rewritten = Content(3, version: 2);
        swap.Write(3, rewritten);
        swap.Enable();
        swap.SwapOutAll();

        Assert.Equal(rewritten, swap.Read(3));
        swap.Disable();
        Assert.Equal(rewritten, swap.Read(3));
    }

    [Fact]
    public void A_disposed_swap_in_stops_serving_faults_from_its_buffers()
    {
        using var swap = new SwapHarness(8);
        for (var p = 0; p < 8; p++)
        {
            swap.Write(p, Content(p, version: 1));
        }

        swap.Enable();
        swap.SwapOutAll();
        swap.Locked(handler =>
        {
            using var swapIn = handler.StartSwapIn();
            var read = swapIn.PlanRead((ulong)(8 * Page))!;
            read.Execute();
            swapIn.Loaded(read);
            return 0;
        });

        var rewritten = Content(5, version: 2);
        swap.Write(5, rewritten);
        swap.Enable();
        swap.SwapOutAll();
        Assert.Equal(rewritten, swap.Read(5));
    }

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
        Native.FileOps.WriteAll(region.MemFd, newer5, region.MemFdOffset + (5 * Page));
        Native.FileOps.WriteAll(region.MemFd, newer12, region.MemFdOffset + (12 * Page));

        Assert.Equal(16, swap.SwapIn());
        Assert.Equal(2, swap.Metrics().RedundantPages);
        Assert.Equal(newer5, swap.Read(5));
        Assert.Equal(newer12, swap.Read(12));
        Assert.Equal(Content(4, version: 1), swap.Read(4));
        Assert.Equal(Content(13, version: 1), swap.Read(13));
    }

    private static byte[] Content(long page, int version)
    {
        var bytes = new byte[Page];
        new Random((int)(page * 31 + version)).NextBytes(bytes);
        return bytes;
    }
}
