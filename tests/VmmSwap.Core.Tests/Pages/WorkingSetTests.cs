using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Tests.Pages;

/// <summary>
/// Working set first: the pages the guest faulted (this cycle and the one before) come back
/// before the rest on swap-in, from the swap file and from staging alike, and every page still
/// comes back.
/// </summary>
public sealed class WorkingSetTests
{
    private const int Pages = 64;
    private static readonly long[] Touched = [7, 40, 41, 63];

    [Fact]
    public void A_swap_in_brings_the_pages_faulted_since_enable_in_first()
    {
        using var swap = Guest(new WorkingSet(Pages));
        swap.Enable();
        swap.SwapOutAll();
        TouchAndSwapOutAgain(swap);

        // Each chunk is at most one read of two pages: the swap-out packed the four touched pages'
        // copies together, so two chunks bring in exactly those (7 and 40, then 41 and 63).
        Assert.Equal(4, swap.SwapIn(maxChunks: 2, chunk: (ulong)PageSize.PagesToBytes(2)));

        Assert.All(Touched, p => Assert.False(swap.Locked(h => h.File.IsPresent(p)), $"page {p} is still in the file"));
        Assert.Equal(Pages - Touched.Length, swap.Metrics().SwapPages);
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void Staged_pages_of_the_working_set_come_in_before_other_staged_pages()
    {
        using var swap = Guest(new WorkingSet(Pages));
        swap.Enable();
        foreach (var p in Touched)
        {
            Assert.Equal(Content(p), swap.Read(p));
        }

        swap.Enable();

        Assert.Equal(4, swap.SwapIn(maxChunks: 2, chunk: (ulong)PageSize.PagesToBytes(2)));

        Assert.All(Touched, p => Assert.False(swap.Locked(h => h.Staging.IsPresent(p)), $"page {p} is still staged"));
        Assert.Equal(Pages - Touched.Length, swap.Metrics().StagingPages);
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void The_pages_faulted_in_one_cycle_come_in_first_in_the_next()
    {
        var workingSet = new WorkingSet(Pages);
        using var swap = Guest(workingSet);
        swap.Enable();
        swap.SwapOutAll();
        foreach (var p in Touched)
        {
            Assert.Equal(Content(p), swap.Read(p));
        }

        swap.Disable();

        // The next cycle: the guest touches nothing while swapped out.
        swap.Enable();
        swap.SwapOutAll();
        Assert.Equal(0, workingSet.RecordedPages);
        Assert.Equal(Touched.Length, workingSet.Pages);

        // From the copies the swap-out packed, two reads of two pages.
        Assert.Equal(4, swap.SwapIn(maxChunks: 2, chunk: (ulong)PageSize.PagesToBytes(2)));
        Assert.All(Touched, p => Assert.False(swap.Locked(h => h.File.IsPresent(p)), $"page {p} is still in the file"));
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void Without_a_working_set_a_swap_in_goes_in_file_order()
    {
        using var swap = Guest(null);
        swap.Enable();
        swap.SwapOutAll();
        TouchAndSwapOutAgain(swap);

        Assert.Equal(4, swap.SwapIn(maxChunks: 2, chunk: (ulong)PageSize.PagesToBytes(2)));

        Assert.All([0L, 1, 2, 3], p => Assert.False(swap.Locked(h => h.File.IsPresent(p)), $"page {p} is still in the file"));
        Assert.True(swap.Locked(h => h.File.IsPresent(40)));
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void A_working_set_run_is_one_window_and_the_union_of_two_cycles_is_one_run()
    {
        var set = new WorkingSet(16);
        set.Record(3);
        set.Record(4);
        set.StartCycle();
        set.Record(5);
        set.Record(9);

        Assert.Equal(new PageRange(3, 6), set.Next(0, 16));
        Assert.Equal(new PageRange(9, 10), set.Next(6, 16));
        Assert.Null(set.Next(10, 16));
        Assert.Equal(4, set.Pages);
        Assert.True(set.Contains(3));
        Assert.False(set.Contains(6));

        // A cycle with no fault keeps the record before it.
        set.StartCycle();
        set.StartCycle();
        Assert.Equal(2, set.Pages);
        Assert.True(set.Contains(5));
        Assert.False(set.Contains(3));
    }

    private static SwapHarness Guest(WorkingSet? workingSet)
    {
        var swap = new SwapHarness(Pages) { WorkingSet = workingSet };
        for (var p = 0; p < Pages; p++)
        {
            swap.Write(p, Content(p));
        }

        return swap;
    }

    // The guest touches its working set out of the file, then everything goes out again.
    private static void TouchAndSwapOutAgain(SwapHarness swap)
    {
        foreach (var p in Touched)
        {
            Assert.Equal(Content(p), swap.Read(p));
        }

        swap.Enable();
        Assert.Equal(Touched.Length, swap.SwapOutAll());
        Assert.Equal(Pages, swap.Metrics().SwapPages);
    }

    private static void AssertEveryPage(SwapHarness swap)
    {
        for (var p = 0; p < Pages; p++)
        {
            Assert.Equal(Content(p), swap.Read(p));
        }
    }

    private static byte[] Content(long page)
    {
        var bytes = new byte[PageSize.Bytes];
        new Random((int)page + 5).NextBytes(bytes);
        return bytes;
    }
}
