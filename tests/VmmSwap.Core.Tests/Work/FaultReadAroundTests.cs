using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Core.Work;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// The page cache that fault reads leave behind (real userfaultfd, real swap file): each read
/// starts reading its page's 2 MiB around it into the cache, only the last 64 such blocks stay, and
/// faults that never hit what was read around stop it.
/// </summary>
public sealed class FaultReadAroundTests
{
    private const long Block = 512;
    private const int Blocks = 72;
    private const long Retained = 64;

    [Fact]
    public void Faults_in_many_blocks_leave_at_most_sixty_four_blocks_of_the_swap_file_cached()
    {
        using var swap = SwappedOut(Blocks * Block);
        var file = swap.Handler.File;

        for (var b = 0L; b < Blocks; b++)
        {
            // A second fault in each block, served from the page cache the first one's read-around
            // filled, is the hit that keeps read-around going (see the test below).
            var page = b * Block + 100;
            Assert.Equal(Page(page), swap.Read(page));
            WaitUntilCached(file, page + 200);
            Assert.Equal(Page(page + 200), swap.Read(page + 200));

            // As the runtime does after faults: a page-cache page left mapped would outlive the drop.
            swap.Locked(handler =>
            {
                handler.FlushServed();
                return 0;
            });
        }

        // The read-around is asynchronous: wait until the cache stops growing.
        var cached = SettledCachedBytes(file.Fd);

        Assert.True(
            cached <= (long)PageSize.PagesToBytes(Retained * Block),
            $"{cached >> 10} KiB of the swap file is cached after faults in {Blocks} blocks; at most {Retained} blocks of 2 MiB may stay");
        Assert.True(cached > 0, "no read-around was left in the cache at all");
    }

    [Fact]
    public void Faults_that_never_hit_what_was_read_around_stop_reading_around()
    {
        // A guest touching one page per 2 MiB all over its memory (a random working set during
        // a swap-in does) would otherwise make every fault read 2 MiB the guest never uses.
        const int Spread = 40;
        using var swap = SwappedOut(Spread * Block);
        var file = swap.Handler.File;
        for (var b = 0L; b < Spread; b++)
        {
            var page = b * Block + 200;
            Assert.Equal(Page(page), swap.Read(page));
        }

        var cached = SettledCachedBytes(file.Fd);
        // Read around: the first blocks, up to the limit; each fault's own read (8 pages) besides.
        var mostPages = ((FaultReads.MaxReadAroundMisses + 1) * Block) + (Spread * 8);
        Assert.True(
            cached <= (long)PageSize.PagesToBytes(mostPages),
            $"{cached >> 10} KiB of the swap file is cached after one fault in each of {Spread} blocks; read-around should stop after {FaultReads.MaxReadAroundMisses} misses without a hit ({PageSize.PagesToBytes(mostPages) >> 10} KiB at most)");
        Assert.True(cached > 0, "no read-around was left in the cache at all");
    }

    [Fact]
    public void Read_around_stopped_by_misses_comes_back_once_faults_cluster_again()
    {
        const int Spread = 40;
        const int Clustered = 8;
        using var swap = SwappedOut((Spread + Clustered) * Block);
        for (var b = 0L; b < Spread; b++)
        {
            var page = b * Block + 300;
            Assert.Equal(Page(page), swap.Read(page));
        }

        Assert.False(swap.Locked(h => h.FaultReads.ReadingAround), $"read-around still on after {Spread} faults in as many blocks");

        // Every page of the last blocks, in order: the fault reads' own pages stay in the page
        // cache (and the kernel reads ahead of reads in order), so faults after them hit it, and
        // those hits turn read-around back on.
        for (var p = Spread * Block; p < (Spread + Clustered) * Block; p++)
        {
            Assert.Equal(Page(p), swap.Read(p));
        }

        Assert.True(swap.Locked(h => h.FaultReads.ReadingAround), $"read-around still off after faults on every page of {Clustered} blocks in order");
    }

    [Fact]
    public void Faults_during_a_swap_in_do_not_count_against_read_around_after_it()
    {
        // They read no block around, so they say nothing of whether read-around pays: a
        // prefetch with the guest faulting all over must not leave it off for the rest of Active.
        const int Spread = 40;
        using var swap = SwappedOut(Spread * Block);
        var swapIn = swap.Locked(handler => handler.StartSwapIn());
        try
        {
            for (var b = 0L; b < Spread; b++)
            {
                var page = b * Block + 400;
                Assert.Equal(Page(page), swap.Read(page));
            }
        }
        finally
        {
            Dispose(swap, swapIn);
        }

        Assert.True(swap.Locked(h => h.FaultReads.ReadingAround), $"read-around is off after {Spread} faults during a swap-in, none of which read around");
    }

    [Fact]
    public void A_fault_during_a_swap_in_reads_only_its_own_pages_and_the_swap_in_leaves_none_cached()
    {
        // The swap-in reads every block anyway; a guest faulting all over its memory meanwhile
        // would have each fault's read queue at the disk behind other faults' 2 MiB.
        const long Blocks = 4;
        using var swap = SwappedOut(Blocks * Block);
        var file = swap.Handler.File;
        var swapIn = swap.Locked(handler => handler.StartSwapIn());
        try
        {
            var page = (Blocks - 1) * Block + 100;
            Assert.Equal(Page(page), swap.Read(page));
            var cached = SettledCachedBytes(file.Fd);
            Assert.True(
                cached <= (long)PageSize.PagesToBytes(8),
                $"{cached >> 10} KiB of the swap file is cached after a fault during a swap-in; only its read's 32 KiB should be");

            swap.Locked(_ =>
            {
                while (swapIn.SwapIn(swap.Uffd, SwapHarness.Chunk) > 0)
                {
                }

                return 0;
            });
        }
        finally
        {
            Dispose(swap, swapIn);
        }

        Assert.Equal(0, SettledCachedBytes(file.Fd));
        for (var p = 0L; p < Blocks * Block; p++)
        {
            Assert.Equal(Page(p), swap.Read(p));
        }
    }

    // A guest of the given pages, each with its own bytes, swapped out whole; nothing of the
    // swap file is cached yet.
    private static SwapHarness SwappedOut(long pages)
    {
        var swap = SwapHarness.Parking(8, true, pages);
        for (var p = 0L; p < pages; p++)
        {
            swap.Write(p, Page(p));
        }

        swap.Enable();
        Assert.Equal(pages, swap.SwapOutAll());
        Assert.Equal(0, PageCache.ResidentBytes(swap.Handler.File.Fd));
        return swap;
    }

    private static void Dispose(SwapHarness swap, SwapInContext swapIn) =>
        swap.Locked(_ =>
        {
            swapIn.Dispose();
            return 0;
        });

    private static void WaitUntilCached(SwapFile file, long index)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!file.IsCached(index))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"swap-file page {index} was not read around into the page cache within 10 s");
            Thread.Sleep(1);
        }
    }

    private static long SettledCachedBytes(Native.Interop.SafeFd fd)
    {
        var last = -1L;
        for (var i = 0; i < 50; i++)
        {
            var now = PageCache.ResidentBytes(fd);
            if (now == last)
            {
                return now;
            }

            last = now;
            Thread.Sleep(100);
        }

        return last;
    }

    private static byte[] Page(long seed)
    {
        var page = new byte[PageSize.Bytes];
        new Random((int)seed + 29).NextBytes(page);
        return page;
    }
}
