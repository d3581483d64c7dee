namespace VmmSwap.Core.Tests.Staging;

/// <summary>
/// The move to staging frees exactly the pages it copied: a page that was not resident when the
/// move was planned, and that a reader faults in while the move runs (a process that reads and
/// was not paused), must not be freed with its neighbours.
/// </summary>
public sealed class MoveToStagingTests
{
    private static int Page => SwapHarness.Page;

    [Fact]
    public void A_page_faulted_in_between_the_copied_pages_while_the_move_runs_is_kept()
    {
        using var swap = new SwapHarness(16);
        var kept = Content(4);
        swap.Write(4, kept);

        // Page 4 goes to staging; then pages around it are written, so the next move's batch
        // copies 0-3 and 6-9 with page 4 (a hole in the guest) in between.
        swap.Enable();
        for (var p = 0; p < 10; p++)
        {
            if (p is not (4 or 5))
            {
                swap.Write(p, Content(p));
            }
        }

        var region = swap.Guest.Regions[0];
        var plan = swap.Locked(h => h.MoveToStaging(region.HostAddress));
        Assert.Equal(kept, swap.Read(4));
        foreach (var batch in plan.Batches)
        {
            batch.Execute();
        }

        swap.Locked(h =>
        {
            h.FlushServed();
            return 0;
        });
        Assert.Equal(kept, swap.Read(4));
        Assert.Equal(Content(3), swap.Read(3));
        swap.Disable();
        Assert.Equal(kept, swap.Read(4));
        Assert.Equal(Content(6), swap.Read(6));
    }

    private static byte[] Content(long page)
    {
        var bytes = new byte[Page];
        new Random((int)page + 1000).NextBytes(bytes);
        return bytes;
    }
}
