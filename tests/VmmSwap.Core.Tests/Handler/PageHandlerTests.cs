using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Tests.Handler;

/// <summary>
/// The page handler on a real userfaultfd and memfd guest, without actors: faults from staging, the
/// file and zero pages, removes, move to staging, swap-out, trim and swap-in. One class past the
/// usual length: the cases share one harness and walk one page life cycle.
/// </summary>
public sealed unsafe class PageHandlerTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void Create_sizes_staging_and_the_swap_file_for_all_regions()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(10), PageSize.PagesToBytes(6));
        using var handler = PageHandler.Create(guest.Regions, Path.GetTempPath());
        Assert.Equal(16, handler.Staging.Length);
        Assert.Equal(16, handler.File.Length);
        Assert.Equal(SwapMetrics.Empty, handler.Metrics());
    }

    [Fact]
    public void Partially_overlapping_regions_are_refused_naming_both()
    {
        using var backing = GuestRegion.Create("backing", PageSize.PagesToBytes(8));
        var a = GuestRegion.Adopt(backing.HostAddress, PageSize.PagesToBytes(4), backing.MemFd, 0);
        var b = GuestRegion.Adopt(backing.HostAddress + (3 * Page), PageSize.PagesToBytes(4), backing.MemFd, 3 * Page);

        var error = Assert.Throws<ArgumentException>(() => PageHandler.Create([a, b], Path.GetTempPath()));

        Assert.Contains($"0x{a.HostAddress:X}..0x{a.EndAddress:X}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{b.HostAddress:X}..0x{b.EndAddress:X}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unusable_swap_directory_is_refused_with_the_cause()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(4));
        var error = Assert.Throws<NativeCallException>(() => PageHandler.Create(guest.Regions, "/nonexistent/swap"));
        Assert.Contains("/nonexistent/swap", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fault_on_a_page_never_written_is_served_with_a_zero_page()
    {
        using var swap = new SwapHarness(8);
        swap.Enable();

        Assert.All(swap.Read(3), b => Assert.Equal(0, b));

        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.ZeroedPages);
        Assert.Equal(1, metrics.ResidentPages);
    }

    [Fact]
    public void A_fault_at_an_address_outside_the_regions_is_refused()
    {
        using var swap = new SwapHarness(8);
        swap.Enable();
        var outside = swap.Guest.Regions[0].EndAddress + (ulong)(16 * Page);

        var error = Assert.Throws<InvalidGuestAddressException>(() => swap.Handler.HandlePageFault(swap.Uffd, outside));
        Assert.Equal(outside, error.Address);
    }

    [Fact]
    public void A_duplicated_fault_on_the_same_page_wakes_and_counts_as_redundant()
    {
        using var swap = new SwapHarness(8);
        swap.Enable();
        var address = (ulong)swap.Guest.PageAddress(2);

        swap.Handler.HandlePageFault(swap.Uffd, address);
        swap.Handler.HandlePageFault(swap.Uffd, address + 100);

        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.ZeroedPages);
        Assert.Equal(1, metrics.RedundantPages);
    }

    [Fact]
    public void Data_written_before_enable_moves_to_staging_and_faults_back_intact()
    {
        using var swap = new SwapHarness(32, 16);
        var pages = new Dictionary<long, byte[]>();
        foreach (var page in new long[] { 0, 1, 2, 7, 20, 31, 32, 40, 47 })
        {
            pages[page] = RandomPage(page);
            swap.Write(page, pages[page]);
        }

        Assert.Equal(pages.Count, swap.Enable());

        var staged = swap.Metrics();
        Assert.Equal(0, staged.ResidentPages);
        Assert.Equal(pages.Count, staged.StagingPages);
        foreach (var (page, content) in pages)
        {
            Assert.Equal(content, swap.Read(page));
        }

        var after = swap.Metrics();
        Assert.Equal(pages.Count, after.CopiedFromStagingPages);
        Assert.Equal(0, after.StagingPages);
        Assert.Equal(pages.Count, after.ResidentPages);
    }

    [Fact]
    public void Move_to_staging_frees_the_guest_in_whole_huge_page_batches()
    {
        var huge = PageSize.HugeBytes / Page;
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(4 * huge));
        var region = guest.Regions[0];
        var alignedStart = (long)(PageSize.RoundUpHugePage((ulong)region.HostAddress) - (ulong)region.HostAddress) / Page;

        // Data from mid-way into a huge page to beyond two whole huge pages.
        var first = alignedStart + (huge / 2);
        var last = Math.Min((4 * huge) - 1, alignedStart + (3 * huge) + 5);
        for (var p = first; p <= last; p++)
        {
            guest.Fill(guest.PageAddress(p), (byte)(p | 1), (ulong)Page);
        }

        using var handler = PageHandler.Create(guest.Regions, Path.GetTempPath());
        var plan = handler.MoveToStaging(region.HostAddress);

        Assert.Equal(last - first + 1, plan.Pages);
        // Spans are disjoint, in order, and each holds its own copies: no batch frees data another batch copies.
        var hugeBytes = PageSize.HugeBytes;
        long previousEnd = 0;
        foreach (var batch in plan.Batches)
        {
            Assert.True(batch.PunchOffset >= previousEnd, $"batch at +0x{batch.PunchOffset:X} overlaps the one before");
            previousEnd = batch.PunchOffset + batch.PunchLength;
            foreach (var copy in batch.Copies)
            {
                var copyOffset = (long)(copy.Source - region.HostAddress);
                Assert.InRange(copyOffset, batch.PunchOffset, previousEnd - (long)copy.Length);
                Assert.True((ulong)hugeBytes >= copy.Length, "one copy is larger than a huge page");
            }
        }

        // Every whole huge page of data is freed by a single batch, and the leading partial one ends at its boundary.
        for (var hugeStart = (alignedStart + huge) * Page; hugeStart + hugeBytes <= (last + 1) * Page; hugeStart += hugeBytes)
        {
            var hugeEnd = hugeStart + hugeBytes;
            Assert.Single(plan.Batches, bt => bt.PunchOffset <= hugeStart && bt.PunchOffset + bt.PunchLength >= hugeEnd);
        }

        Assert.Contains(plan.Batches, bt => bt.Copies.Count > 0 && (long)(bt.Copies[^1].Source - region.HostAddress) + (long)bt.Copies[^1].Length == (alignedStart + huge) * Page);

        foreach (var batch in plan.Batches)
        {
            batch.Execute();
        }

        Assert.Equal(0, handler.ResidentPages());
        Assert.Equal(plan.Pages, handler.Staging.PresentPages);
        Assert.All(Enumerable.Range((int)first, (int)(last - first + 1)), p => Assert.Equal((byte)(p | 1), handler.Staging.PageContent(p)[0]));
    }

    [Fact]
    public void Move_to_staging_needs_a_region_base_address()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(8));
        using var handler = PageHandler.Create(guest.Regions, Path.GetTempPath());
        Assert.Throws<InvalidGuestAddressException>(() => handler.MoveToStaging(guest.PageAddress(1)));
        Assert.Throws<InvalidGuestAddressException>(() => handler.MoveToStaging(guest.Regions[0].HostAddress - (16 * Page)));
    }

    [Fact]
    public void A_balloon_remove_drops_staged_and_swapped_pages_and_they_read_back_zero()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        swap.SwapOutAll();
        swap.Enable();
        Assert.Equal(16, swap.Metrics().SwapPages);

        swap.Remove(4, 4);

        var metrics = swap.Metrics();
        Assert.Equal(12, metrics.SwapPages);
        Assert.All(swap.Read(5), b => Assert.Equal(0, b));
        Assert.Equal(RandomPage(8), swap.Read(8));
    }

    [Fact]
    public void A_remove_outside_the_regions_is_refused_and_changes_nothing()
    {
        using var swap = new SwapHarness(8);
        for (var p = 0; p < 8; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        var region = swap.Guest.Regions[0];

        var error = Assert.Throws<InvalidGuestAddressException>(() => swap.Handler.HandlePageRemove((ulong)region.HostAddress + (ulong)(6 * Page), region.EndAddress + (ulong)(2 * Page)));
        Assert.Equal(region.EndAddress, error.Address);
        Assert.Throws<InvalidGuestAddressException>(() => swap.Handler.HandlePageRemove((ulong)region.HostAddress + 1, region.EndAddress));
        Assert.Equal(8, swap.Metrics().StagingPages);
    }

    [Fact]
    public void Swap_out_writes_staging_to_the_file_and_faults_read_it_back()
    {
        using var swap = new SwapHarness(24, 8);
        for (var p = 0; p < 32; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        Assert.Equal(32, swap.SwapOutAll());

        var swapped = swap.Metrics();
        Assert.Equal(0, swapped.StagingPages);
        Assert.Equal(32, swapped.SwapPages);
        Assert.Equal(RandomPage(3), swap.Read(3));
        Assert.Equal(RandomPage(30), swap.Read(30));

        var after = swap.Metrics();
        Assert.Equal(2, after.CopiedFromFilePages);
        Assert.Equal(30, after.SwapPages);
    }

    [Fact]
    public void Swap_out_skips_a_page_already_faulted_back()
    {
        using var swap = new SwapHarness(8);
        for (var p = 0; p < 8; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        Assert.Equal(RandomPage(5), swap.Read(5));

        Assert.Equal(7, swap.SwapOutAll());
        Assert.Equal(7, swap.Metrics().SwapPages);
    }

    [Fact]
    public void Swapping_out_twice_keeps_the_newest_contents()
    {
        using var swap = new SwapHarness(8);
        for (var p = 0; p < 8; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        swap.SwapOutAll();
        var changed = RandomPage(100);
        swap.Write(2, changed);
        swap.Enable();
        Assert.Equal(1, swap.SwapOutAll());

        Assert.Equal(changed, swap.Read(2));
        Assert.Equal(RandomPage(3), swap.Read(3));
        Assert.Equal(0, swap.SwapOutAll());
    }

    [Fact]
    public void A_swap_in_chunk_takes_every_present_page_of_its_file_window_not_one_run()
    {
        using var swap = new SwapHarness(64);
        for (var p = 0; p < 64; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        Assert.Equal(64, swap.SwapOutAll());
        for (var p = 0; p < 64; p += 2)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }

        Assert.Equal(32, swap.Metrics().SwapPages);

        // The window starts at the first present slot (1) and spans 32 slots: the 16 odd pages in it.
        Assert.Equal(16, swap.SwapIn(maxChunks: 1, chunk: (ulong)(32 * Page)));
        Assert.Equal(16, swap.Metrics().SwapPages);
        Assert.Equal(16, swap.SwapIn(maxChunks: 1, chunk: (ulong)(32 * Page)));
        Assert.Equal(0, swap.SwapIn(maxChunks: 1, chunk: (ulong)(32 * Page)));

        var metrics = swap.Metrics();
        Assert.Equal(0, metrics.SwapPages);
        Assert.Equal(64, metrics.ResidentPages);
        swap.Disable();
        for (var p = 0; p < 64; p++)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_swap_in_chunk_takes_staged_runs_up_to_its_size()
    {
        using var swap = new SwapHarness(64);
        for (var p = 0; p < 64; p += 2)
        {
            swap.Write(p, RandomPage(p));
        }

        Assert.Equal(32, swap.Enable());

        // Staged runs are single pages two apart: a 10-page chunk takes ten of them.
        Assert.Equal(10, swap.SwapIn(maxChunks: 1, chunk: (ulong)(10 * Page)));
        Assert.Equal(22, swap.Metrics().StagingPages);
        Assert.Equal(22, swap.SwapIn(chunk: (ulong)(10 * Page)));
        Assert.Equal(0, swap.Metrics().StagingPages);
        Assert.Equal(0, FileOps.Status(swap.Handler.Staging.MemFd).AllocatedBytes);
        swap.Disable();
        for (var p = 0; p < 64; p++)
        {
            Assert.Equal(p % 2 == 0 ? RandomPage(p) : new byte[Page], swap.Read(p));
        }
    }

    [Fact]
    public void Swap_in_brings_every_page_back_from_staging_and_the_file()
    {
        using var swap = new SwapHarness(20, 12);
        for (var p = 0; p < 32; p++)
        {
            swap.Write(p, RandomPage(p));
        }

        swap.Enable();
        swap.SwapOutAll();
        swap.Write(1, RandomPage(1000));
        swap.Enable();

        Assert.Equal(32, swap.SwapIn(chunk: (ulong)(5 * Page)));

        var metrics = swap.Metrics();
        Assert.Equal(32, metrics.ResidentPages);
        Assert.Equal(0, metrics.StagingPages);
        Assert.Equal(0, metrics.SwapPages);
        swap.Disable();
        Assert.Equal(RandomPage(1000), swap.Read(1));
        for (var p = 2; p < 32; p++)
        {
            Assert.Equal(RandomPage(p), swap.Read(p));
        }
    }

    [Fact]
    public void Trim_drops_zero_pages_and_pages_equal_to_their_copy_on_disk()
    {
        using var swap = new SwapHarness(16);
        for (var p = 0; p < 16; p++)
        {
            swap.Write(p, p < 4 ? new byte[Page] : RandomPage(p));
        }

        swap.Enable();
        swap.SwapOutAll();

        // Fault pages 4..11 back unchanged and change 12 and 13; 14 and 15 stay in the file.
        for (var p = 4; p < 14; p++)
        {
            swap.Read(p);
        }

        swap.Write(12, RandomPage(500));
        swap.Write(13, new byte[Page]);
        swap.Enable();
        var (zero, clean) = swap.TrimAll();

        Assert.Equal(1, zero);
        Assert.Equal(8, clean);
        var metrics = swap.Metrics();
        Assert.Equal(1, metrics.StagingPages);
        Assert.Equal(4 + 8 + 2, metrics.SwapPages);
        Assert.Equal(RandomPage(12 - 12 + 500), swap.Read(12));
        Assert.All(swap.Read(13), b => Assert.Equal(0, b));
        Assert.Equal(RandomPage(7), swap.Read(7));
    }

    private static byte[] RandomPage(long seed)
    {
        var bytes = new byte[Page];
        new Random((int)seed).NextBytes(bytes);
        return bytes;
    }
}
