using VmmSwap.Core.Pages;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// The page cache that fault reads leave behind (real userfaultfd, real swap file): each read
/// starts reading its page's 2 MiB around it into the cache, a swap-in running or not, and only the
/// last 64 such blocks stay.
/// </summary>
public sealed class FaultReadAroundTests
{
    private const long Block = 512;
    private const int Blocks = 72;
    private const long Retained = 64;

    [Fact]
    public void Faults_in_many_blocks_leave_at_most_sixty_four_blocks_of_the_swap_file_cached()
    {
        using var swap = SwapHarness.Parking(8, true, Blocks * Block);
        for (var p = 0L; p < Blocks * Block; p++)
        {
            swap.Write(p, Page(p));
        }

        swap.Enable();
        Assert.Equal(Blocks * Block, swap.SwapOutAll());
        var file = swap.Handler.File;
        Assert.Equal(0, PageCache.ResidentBytes(file.Fd));

        for (var b = 0L; b < Blocks; b++)
        {
            var page = b * Block + 100;
            Assert.Equal(Page(page), swap.Read(page));
        }

        // The read-around is asynchronous: wait until the cache stops growing.
        var cached = SettledCachedBytes(file.Fd);

        Assert.True(
            cached <= (long)PageSize.PagesToBytes(Retained * Block),
            $"{cached >> 20} MiB of the swap file is cached after faults in {Blocks} blocks; at most {Retained} blocks of 2 MiB may stay");
        Assert.True(cached > 0, "no read-around was left in the cache at all");
    }

    [Fact]
    public void A_fault_during_a_swap_in_reads_its_block_around_it_and_the_swap_in_leaves_none_of_it_cached()
    {
        const long Blocks = 4;
        using var swap = SwapHarness.Parking(8, true, Blocks * Block);
        for (var p = 0L; p < Blocks * Block; p++)
        {
            swap.Write(p, Page(p));
        }

        swap.Enable();
        Assert.Equal(Blocks * Block, swap.SwapOutAll());
        var file = swap.Handler.File;
        var swapIn = swap.Locked(handler => handler.StartSwapIn());
        try
        {
            // The swap-in reads from the start; the guest faults in its last block first, and the
            // faults after this one there would each wait for the disk without the read-around.
            var page = (Blocks - 1) * Block + 100;
            Assert.Equal(Page(page), swap.Read(page));
            var cached = SettledCachedBytes(file.Fd);
            Assert.True(
                cached >= (long)PageSize.PagesToBytes(Block),
                $"{cached >> 10} KiB of the swap file is cached after a fault during a swap-in; its 2 MiB block should be");

            swap.Locked(handler =>
            {
                while (swapIn.SwapIn(swap.Uffd, SwapHarness.Chunk) > 0)
                {
                }

                return 0;
            });
        }
        finally
        {
            swap.Locked(_ =>
            {
                swapIn.Dispose();
                return 0;
            });
        }

        Assert.Equal(0, SettledCachedBytes(file.Fd));
        for (var p = 0L; p < Blocks * Block; p++)
        {
            Assert.Equal(Page(p), swap.Read(p));
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
