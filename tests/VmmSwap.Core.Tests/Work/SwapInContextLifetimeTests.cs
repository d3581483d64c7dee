namespace VmmSwap.Core.Tests.Work;

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

    private static byte[] Content(long page, int version)
    {
        var bytes = new byte[Page];
        new Random((int)(page * 31 + version)).NextBytes(bytes);
        return bytes;
    }
}
