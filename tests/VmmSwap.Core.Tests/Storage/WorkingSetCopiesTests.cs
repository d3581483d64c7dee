using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Storage;

/// <summary>
/// Working-set copies (REAP's working-set file): a swap-out packs the working set's pages into
/// the swap file's copy area, a working-set swap-in reads them from there in one sequential read,
/// and a copy never stands in for a page that left the file after it was written.
/// </summary>
public sealed class WorkingSetCopiesTests
{
    private const int Pages = 256;

    // Spread out as a guest's working set is: one page in sixteen, no two in a run.
    private static readonly long[] Touched = [.. Enumerable.Range(0, Pages / 16).Select(i => (long)(i * 16) + 5)];

    [Fact]
    public void A_swap_out_packs_the_working_set_into_the_copy_area_in_page_order()
    {
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages));

        var copies = swap.Locked(h => h.Copies!);
        Assert.Equal(Touched.Length, copies.Used);
        Assert.Equal(Touched.Length, copies.ValidPages);
        Assert.Equal(Touched, Enumerable.Range(0, Touched.Length).Select(slot => copies.PageAt(slot)));
        Assert.Equal(Pages, copies.AreaStart);
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void A_working_set_swap_in_reads_the_copies_in_one_read_before_any_slot_of_the_guest()
    {
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages));

        var (window, brought, present) = swap.Locked(h =>
        {
            using var swapIn = h.StartSwapIn();
            var read = swapIn.PlanRead(SwapHarness.Chunk)!;
            read.Execute();
            swapIn.Loaded(read);
            var brought = swapIn.CopyStep(swap.Uffd, SwapHarness.Chunk);
            return (read.Window, brought, Touched.Count(p => h.File.IsPresent(p)));
        });

        // Read scattered over the file, sixteen pages would have taken sixteen reads.
        Assert.Equal(new PageRange(Pages, Pages + Touched.Length), window);
        Assert.Equal(Touched.Length, brought);
        Assert.Equal(0, present);
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Fact]
    public void A_page_removed_after_its_copy_was_written_comes_back_as_zeros_not_as_the_copy()
    {
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages));
        var removed = Touched[3];

        swap.Remove(removed, 1);

        Assert.False(swap.Locked(h => h.Copies!.IsValid(removed)));
        Assert.Equal(Touched.Length - 1, swap.SwapIn(maxChunks: 1));
        Assert.Equal(new byte[SwapHarness.Page], swap.Read(removed));
        swap.Disable();
        for (var p = 0; p < Pages; p++)
        {
            Assert.Equal(p == removed ? new byte[SwapHarness.Page] : Content(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_page_faulted_in_after_its_copy_was_written_keeps_what_the_guest_wrote_since()
    {
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages));
        var rewritten = Touched[5];
        var newer = Content(rewritten + 1000);

        swap.Write(rewritten, newer);

        Assert.False(swap.Locked(h => h.Copies!.IsValid(rewritten)));
        swap.Disable();
        Assert.Equal(newer, swap.Read(rewritten));
    }

    [Fact]
    public void A_write_planned_before_the_area_started_over_writes_no_copy_into_it()
    {
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages), swapOut: false);

        // A job plans the write of the first staged page (a page per write) with its copy in area
        // slot 0, and dies before its worker runs it; the guest takes that page back from staging.
        var late = swap.Locked(h => h.PlanSwapOut((ulong)SwapHarness.Page)!);
        Assert.Equal([new PageRange(Touched[0], Touched[0] + 1)], late.Runs);
        Assert.Equal(Content(Touched[0]), swap.Read(Touched[0]));

        // The next swap-out starts the area over and puts the next page's copy in slot 0.
        var next = swap.Locked(h =>
        {
            h.EndSwapOut();
            var write = h.PlanSwapOut((ulong)SwapHarness.Page)!;
            write.Execute();
            h.CompleteSwapOut(write);
            h.FlushDeferredFrees();
            return write;
        });
        Assert.Equal([new PageRange(Touched[1], Touched[1] + 1)], next.Runs);
        Assert.Equal(late.Copies!.FirstSlot, next.Copies!.FirstSlot);

        // The dead job's write runs at last: its page's own slot is written, its copy is not.
        late.Execute();

        Assert.False(late.Copies.Written);
        Assert.True(next.Copies.Written);
        swap.SwapOutAll();
        swap.Disable();
        AssertEveryPage(swap);
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(40, 16)]
    public void Copies_are_written_only_while_the_disk_keeps_room_for_every_page_still_staged(int sparePages, int copiesWritten)
    {
        // Room for the guest's own slots and a few pages more.
        using var mount = TestMount.Create("tmpfs", $"size={PageSize.PagesToBytes(Pages + sparePages) / 1024}k");
        using var swap = TouchedAndSwappedOut(new WorkingSet(Pages), mount.Directory, swapOut: false);

        // A page to a write: a write, and its copy, apiece.
        var (written, failures, valid) = swap.Locked(h =>
        {
            long written = 0;
            var failures = new List<Exception>();
            while (h.PlanSwapOut((ulong)SwapHarness.Page) is { } write)
            {
                write.Execute();
                written += h.CompleteSwapOut(write);
                h.FlushDeferredFrees();
                if (write.CopiesFailure is { } failure)
                {
                    failures.Add(failure);
                }
            }

            h.PlanSwapOutFlush().Execute();
            return (written, failures, h.Copies!.ValidPages);
        });

        Assert.Equal(Touched.Length, written);
        Assert.Equal(copiesWritten, valid);
        if (copiesWritten == 0)
        {
            // The first copy would have left less room than the fifteen pages staged after it
            // need: none is written, and the swap-out tries no more.
            var error = Assert.IsType<NoRoomForCopiesException>(Assert.Single(failures));
            Assert.True(error.AvailableBytes < error.NeededBytes, error.Message);
        }
        else
        {
            Assert.Empty(failures);
        }

        Assert.Equal(Pages, swap.Metrics().SwapPages);
        swap.Disable();
        AssertEveryPage(swap);
    }

    // Every page written and swapped out, the working set touched out of the file (so recorded),
    // staged again and swapped out again: the second swap-out writes the working set and its copies.
    private static SwapHarness TouchedAndSwappedOut(WorkingSet workingSet, string? swapDirectory = null, bool swapOut = true)
    {
        var swap = new SwapHarness(Pages) { WorkingSet = workingSet, SwapDirectory = swapDirectory ?? Path.GetTempPath() };
        try
        {
            for (var p = 0; p < Pages; p++)
            {
                swap.Write(p, Content(p));
            }

            swap.Enable();
            swap.SwapOutAll();
            foreach (var p in Touched)
            {
                Assert.Equal(Content(p), swap.Read(p));
            }

            swap.Enable();
            if (swapOut)
            {
                Assert.Equal(Touched.Length, swap.SwapOutAll());
            }

            return swap;
        }
        catch
        {
            swap.Dispose();
            throw;
        }
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
        new Random((int)page + 11).NextBytes(bytes);
        return bytes;
    }
}
