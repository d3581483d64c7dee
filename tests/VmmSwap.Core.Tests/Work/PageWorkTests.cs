using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// Swap-out writes and trim windows are planned on the handler's thread, executed elsewhere and
/// completed back on the handler's thread; faults and balloon removes land in between. These
/// tests put them at each point and check that no page is lost or served stale.
/// </summary>
public sealed class PageWorkTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void A_swap_out_write_records_only_the_pages_still_staged_when_it_completes()
    {
        using var swap = new SwapHarness(64);
        for (var p = 0; p < 64; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        Assert.Equal(64, swap.Enable());
        var write = swap.Locked(h => h.PlanSwapOut((ulong)(64 * Page)))!;
        Assert.Equal([new PageRange(0, 64)], write.Runs);

        // Planned, not yet run: a fault from staging and a balloon remove.
        Assert.Equal(RandomPage(5), swap.Read(5));
        swap.Remove(10, 2);
        write.Execute();

        // Run, not yet completed: another fault from staging.
        Assert.Equal(RandomPage(20), swap.Read(20));
        var written = swap.Locked(h => h.CompleteSwapOut(write));

        Assert.Equal(60, written);
        var metrics = swap.Metrics();
        Assert.Equal(60, metrics.SwapPages);
        Assert.Equal(0, metrics.StagingPages);
        Assert.Equal(2, metrics.CopiedFromStagingPages);

        // The run's staging memory is freed by the next work of the job, off the handler's thread.
        Assert.True(StagingBytes(swap) > 0, "staging was freed on the handler's thread");
        var flush = swap.Locked(h => h.PlanSwapOutFlush());
        flush.Execute();
        Assert.Equal(0, StagingBytes(swap));
        for (var p = 0; p < 64; p++)
        {
            Assert.Equal(p is 10 or 11 ? new byte[Page] : RandomPage(p), swap.Read(p));
        }

        Assert.Equal(60, swap.Metrics().CopiedFromFilePages);
    }

    [Fact]
    public void A_swap_out_write_gathers_staged_runs_up_to_its_size_and_every_page_comes_back()
    {
        using var swap = new SwapHarness(64);
        long[] written = [0, 1, 2, 3, 10, 11, 12, 30, .. Enumerable.Range(40, 10).Select(p => (long)p)];
        foreach (var p in written)
        {
            swap.Write(p, RandomPage(p));
        }

        Assert.Equal(written.Length, swap.Enable());
        var first = swap.Locked(h =>
        {
            var write = h.PlanSwapOut((ulong)(16 * Page))!;
            write.Execute();
            h.CompleteSwapOut(write);
            h.FlushDeferredFrees();
            return write;
        });
        var second = swap.Locked(h => h.PlanSwapOut((ulong)(16 * Page)))!;
        second.Execute();
        swap.Locked(h => h.CompleteSwapOut(second));
        swap.Locked(h => h.PlanSwapOutFlush()).Execute();

        Assert.Equal([new PageRange(0, 4), new PageRange(10, 13), new PageRange(30, 31), new PageRange(40, 48)], first.Runs);
        Assert.Equal([new PageRange(48, 50)], second.Runs);
        Assert.Equal(written.Length, swap.Metrics().SwapPages);
        for (var p = 0; p < 64; p++)
        {
            Assert.Equal(written.Contains(p) ? RandomPage(p) : new byte[Page], swap.Read(p));
        }
    }

    [Fact]
    public void A_failed_swap_out_write_leaves_its_pages_in_staging()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        var write = swap.Locked(h => h.PlanSwapOut((ulong)(16 * Page)))!;
        swap.Handler.File.Fd.Dispose();

        Assert.Throws<ObjectDisposedException>(write.Execute);
        Assert.True(write.CancelOrWait(TimeSpan.Zero), "a failed write must still count as done, or a stopping handler would wait for it");
        Assert.Equal(16, swap.Metrics().StagingPages);
        Assert.Equal(0, swap.Metrics().SwapPages);
        for (var p = 0; p < 16; p++)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }
    }

    [Fact]
    public void Work_cancelled_before_it_starts_never_runs()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        var write = swap.Locked(h => h.PlanSwapOut((ulong)(16 * Page)))!;

        Assert.True(write.CancelOrWait(TimeSpan.Zero));
        write.Execute();

        Assert.Equal(0, FileOps.Status(swap.Handler.File.Fd).AllocatedBytes);
        Assert.Equal(16, swap.Metrics().StagingPages);
        for (var p = 0; p < 16; p++)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_trim_window_drops_only_pages_still_staged_when_it_completes()
    {
        using var swap = new SwapHarness(32);

        // Even pages all zero, odd pages random; after a swap-out and a read of every page, the
        // odd pages are clean (equal to their bytes on disk) except page 1, written again.
        for (var p = 0; p < 32; p++)
        {
            swap.Write(p, p % 2 == 0 ? new byte[Page] : RandomPage(p));
        }

        swap.Enable();
        swap.SwapOutAll();
        for (var p = 0; p < 32; p++)
        {
            swap.Read(p);
        }

        swap.Write(1, RandomPage(100));
        Assert.Equal(32, swap.Enable());
        var trim = swap.Locked(h => h.StartTrim());
        var window = swap.Locked(_ => trim.Plan(32))!;
        Assert.Equal(new PageRange(0, 32), window.Range);

        // Planned, not yet run: clean page 3 faulted back, zero page 4 removed.
        Assert.Equal(RandomPage(3), swap.Read(3));
        swap.Remove(4, 1);
        window.Execute();

        // Run, not yet completed: clean page 7 faulted back.
        Assert.Equal(RandomPage(7), swap.Read(7));
        var trimmed = swap.Locked(_ => trim.Complete(window));

        Assert.Equal(15 + 13, trimmed);
        Assert.Equal(15, trim.ZeroPages);
        Assert.Equal(13, trim.CleanPages);

        // The dropped pages' memory and the zero pages' blocks go with one last window.
        var staged = StagingBytes(swap);
        var onDisk = FileOps.Status(swap.Handler.File.Fd).AllocatedBytes;
        var last = swap.Locked(_ => trim.Plan(32))!;
        Assert.True(last.Range.IsEmpty, $"the last window examines nothing, got {last.Range}");
        last.Execute();
        Assert.Equal(0, swap.Locked(_ => trim.Complete(last)));
        Assert.Null(swap.Locked(_ => trim.Plan(32)));
        Assert.Equal(Page, StagingBytes(swap));
        Assert.True(StagingBytes(swap) < staged, "the last window freed no staging memory");
        Assert.True(FileOps.Status(swap.Handler.File.Fd).AllocatedBytes < onDisk, "the last window punched no zero page's blocks");
        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.StagingPages);
        Assert.Equal(13, metrics.SwapPages);
        for (var p = 0; p < 32; p++)
        {
            var expected = p == 1 ? RandomPage(100) : p % 2 == 0 ? new byte[Page] : RandomPage(p);
            Assert.Equal(expected, swap.Read(p));
        }
    }

    [Fact]
    public void A_fault_during_swap_in_on_a_page_already_read_is_served_from_the_read_buffer()
    {
        using var swap = new SwapHarness(64);
        for (var p = 0; p < 64; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        Assert.Equal(64, swap.SwapOutAll());
        using var swapIn = swap.Locked(h => h.StartSwapIn());
        var read = swap.Locked(_ => swapIn.PlanRead((ulong)(32 * Page)))!;
        Assert.Equal(new PageRange(0, 32), read.Window);
        read.Execute();
        swap.Locked(_ =>
        {
            swapIn.Loaded(read);
            return 0;
        });

        // The window's blocks leave the disk: a fault served from the file would read zeros.
        FileOps.PunchHole(swap.Handler.File.Fd, 0, 32L * Page);
        Assert.Equal(RandomPage(5), swap.Read(5));
        Assert.Equal(RandomPage(40), swap.Read(40));
        Assert.Equal(2, swap.Metrics().CopiedFromFilePages);

        long brought = 0;
        for (long n; (n = swap.Locked(_ => swapIn.SwapIn(swap.Uffd, (ulong)(32 * Page)))) > 0;)
        {
            brought += n;
        }

        Assert.Equal(62, brought);
        for (var p = 0; p < 64; p++)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }
    }

    private static long StagingBytes(SwapHarness swap) => FileOps.Status(swap.Handler.Staging.MemFd).AllocatedBytes;

    private static byte[] RandomPage(long seed)
    {
        var bytes = new byte[Page];
        new Random((int)seed).NextBytes(bytes);
        return bytes;
    }
}
