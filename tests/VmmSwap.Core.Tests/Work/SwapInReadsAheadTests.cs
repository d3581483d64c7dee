using VmmSwap.Core.Pages;
using VmmSwap.Core.Work;
using VmmSwap.Native.Files;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// A swap-in plans <see cref="SwapInContext.ReadsAhead"/> windows ahead of the one it copies, so
/// the disk always has a read queued; the reads may come back in any order, and the windows are
/// still copied in the order planned, each page from its own window.
/// </summary>
public sealed class SwapInReadsAheadTests
{
    private const int WindowPages = 16;

    private static int Page => SwapHarness.Page;

    private static ulong Window => (ulong)(WindowPages * Page);

    [Fact]
    public void Two_windows_are_planned_ahead_and_no_third_until_one_is_copied_from()
    {
        using var swap = SwappedOut(4 * WindowPages);
        using var swapIn = swap.Locked(h => h.StartSwapIn());

        var first = swap.Locked(_ => swapIn.PlanRead(Window))!;
        var second = swap.Locked(_ => swapIn.PlanRead(Window))!;
        Assert.Equal(new PageRange(0, WindowPages), first.Window);
        Assert.Equal(new PageRange(WindowPages, 2 * WindowPages), second.Window);
        Assert.Null(swap.Locked(_ => swapIn.PlanRead(Window)));

        Load(swap, swapIn, first, second);
        Assert.False(swapIn.ReadPending);

        // Copying from the first window frees a place for the third.
        Assert.Equal(WindowPages, swap.Locked(_ => swapIn.CopyStep(swap.Uffd, Window)));
        var third = swap.Locked(_ => swapIn.PlanRead(Window))!;
        Assert.Equal(new PageRange(2 * WindowPages, 3 * WindowPages), third.Window);
        Assert.True(swapIn.ReadPending);
        Load(swap, swapIn, third);

        Assert.Equal(4 * WindowPages, Finish(swap, swapIn) + WindowPages);
        AssertAllPages(swap, 4 * WindowPages);
    }

    [Fact]
    public void A_window_read_back_before_the_one_planned_first_waits_for_it()
    {
        using var swap = SwappedOut(2 * WindowPages);
        using var swapIn = swap.Locked(h => h.StartSwapIn());
        var first = swap.Locked(_ => swapIn.PlanRead(Window))!;
        var second = swap.Locked(_ => swapIn.PlanRead(Window))!;

        Load(swap, swapIn, second);
        Assert.True(swapIn.ReadPending);
        Assert.Equal(0, swap.Locked(_ => swapIn.CopyStep(swap.Uffd, Window)));

        // The second window's buffer already serves a fault: its blocks leave the disk, so a
        // fault served from the file would read zeros.
        FileOps.PunchHole(swap.Handler.File.Fd, (long)WindowPages * Page, (long)WindowPages * Page);
        Assert.Equal(Content(WindowPages + 3), swap.Read(WindowPages + 3));

        Load(swap, swapIn, first);
        Assert.Equal(WindowPages, swap.Locked(_ => swapIn.CopyStep(swap.Uffd, Window)));
        Assert.Equal(WindowPages - 1, swap.Locked(_ => swapIn.CopyStep(swap.Uffd, Window)));
        Assert.Equal(0, Finish(swap, swapIn));
        AssertAllPages(swap, 2 * WindowPages);
    }

    [Fact]
    public void A_read_handed_back_twice_is_refused()
    {
        using var swap = SwappedOut(WindowPages);
        using var swapIn = swap.Locked(h => h.StartSwapIn());
        var read = swap.Locked(_ => swapIn.PlanRead(Window))!;
        Load(swap, swapIn, read);

        var error = Assert.Throws<InvalidOperationException>(() => swap.Locked(_ =>
        {
            swapIn.Loaded(read);
            return 0;
        }));
        Assert.Contains("not one planned and pending", error.Message, StringComparison.Ordinal);
    }

    private static SwapHarness SwappedOut(int pages)
    {
        var swap = new SwapHarness(pages);
        for (var p = 0; p < pages; p++)
        {
            swap.Write(p, Content(p));
        }

        swap.Enable();
        Assert.Equal(pages, swap.SwapOutAll());
        return swap;
    }

    // Executes the reads, then hands them back in the order given, as the driver does on answers.
    private static void Load(SwapHarness swap, SwapInContext swapIn, params SwapInRead[] reads)
    {
        foreach (var read in reads)
        {
            read.Execute();
        }

        swap.Locked(_ =>
        {
            foreach (var read in reads)
            {
                swapIn.Loaded(read);
            }

            return 0;
        });
    }

    // The rest of the swap-in, synchronously; the pages it brought in.
    private static long Finish(SwapHarness swap, SwapInContext swapIn)
    {
        long brought = 0;
        for (long n; (n = swap.Locked(_ => swapIn.SwapIn(swap.Uffd, Window))) > 0;)
        {
            brought += n;
        }

        return brought;
    }

    private static void AssertAllPages(SwapHarness swap, int pages)
    {
        for (var p = 0; p < pages; p++)
        {
            Assert.Equal(Content(p), swap.Read(p));
        }
    }

    private static byte[] Content(long page)
    {
        var bytes = new byte[Page];
        new Random((int)page + 7).NextBytes(bytes);
        return bytes;
    }
}
