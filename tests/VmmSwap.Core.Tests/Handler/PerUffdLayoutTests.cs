using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Tests.Handler;

/// <summary>
/// Faults and removes of a second mapping of the guest memfds at other addresses, with its own
/// userfaultfd (as a device process maps the guest), served through its own <see cref="GuestLayout"/>
/// from the same page state as the host's: on real userfaultfds and memfds.
/// </summary>
public sealed class PerUffdLayoutTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void Faults_of_a_mapping_at_other_addresses_are_served_there_from_staging_the_file_and_zero_pages()
    {
        using var swap = new SwapHarness(8, 4);
        var count = swap.Guest.PageCount;
        for (var p = 0L; p < count; p += 2)
        {
            swap.Write(p, Content(p));
        }

        swap.Enable();
        using var second = swap.MapAgain();
        Assert.NotEqual(swap.Guest.PageAddress(0), second.PageAddress(0));

        // Pending: staged pages and zero pages, read through the second mapping first.
        for (var p = 0L; p < count / 2; p++)
        {
            Assert.Equal(Expected(p), second.Read(p));
        }

        // Active: the rest from the swap file.
        swap.SwapOutAll();
        for (var p = count / 2; p < count; p++)
        {
            Assert.Equal(Expected(p), second.Read(p));
        }

        var metrics = swap.Metrics();
        Assert.Equal(count / 4, metrics.CopiedFromStagingPages);
        Assert.Equal(count / 4, metrics.CopiedFromFilePages);
        Assert.Equal(count / 2, metrics.ZeroedPages);

        // Both mappings show the same memfd pages: the host reads what the second one faulted in.
        for (var p = 0L; p < count; p++)
        {
            Assert.Equal(Expected(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_write_through_the_second_mapping_is_what_the_host_reads_after_swap_in()
    {
        using var swap = new SwapHarness(6);
        for (var p = 0L; p < 6; p++)
        {
            swap.Write(p, Content(p));
        }

        swap.Enable();
        using var second = swap.MapAgain();
        swap.SwapOutAll();
        second.Write(4, Content(40));
        swap.SwapIn();

        for (var p = 0L; p < 6; p++)
        {
            Assert.Equal(p == 4 ? Content(40) : Content(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_remove_through_the_second_mapping_that_crosses_two_regions_drops_their_pages()
    {
        using var swap = new SwapHarness(4, 4);
        for (var p = 0L; p < 8; p++)
        {
            swap.Write(p, Content(p));
        }

        swap.Enable();
        using var second = swap.MapAgain();

        // Regions lie in reverse order there: the last page of region 1 is right before page 0.
        Assert.Equal(second.PageAddress(0), second.PageAddress(7) + Page);
        second.Remove(second.PageAddress(6), (ulong)(3 * Page));

        Assert.Equal(5, swap.Metrics().StagingPages);
        foreach (var p in new long[] { 0, 6, 7 })
        {
            Assert.All(second.Read(p), b => Assert.Equal(0, b));
        }

        foreach (var p in new long[] { 1, 2, 3, 4, 5 })
        {
            Assert.Equal(Content(p), swap.Read(p));
        }
    }

    [Fact]
    public void A_fault_or_remove_outside_every_region_of_a_layout_is_refused_and_changes_nothing()
    {
        using var swap = new SwapHarness(4);
        swap.Write(1, Content(1));
        swap.Enable();
        using var second = swap.MapAgain();

        var outside = (ulong)second.PageAddress(0) + (ulong)(4 * Page);
        Assert.Throws<InvalidGuestAddressException>(() => swap.Locked(h =>
        {
            h.HandlePageFault(second.Uffd, second.Layout, outside);
            return 0;
        }));
        var error = Assert.Throws<InvalidGuestAddressException>(() => swap.Locked(h =>
        {
            h.HandlePageRemove(second.Layout, (ulong)second.PageAddress(0), outside + (ulong)Page);
            return 0;
        }));

        Assert.Equal(outside, error.Address);
        Assert.Equal(1, swap.Metrics().StagingPages);
        Assert.Equal(Content(1), second.Read(1));
    }

    [Fact]
    public void A_layout_needs_one_aligned_base_per_region_and_no_overlap()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(4), PageSize.PagesToBytes(2));
        var regions = guest.Regions;
        var origin = unchecked((nint)0x7000_0000_0000L);

        Assert.Throws<ArgumentException>(() => (object)GuestLayout.Of(regions, [origin]));
        Assert.Throws<InvalidGuestAddressException>(() => (object)GuestLayout.Of(regions, [origin + 1, origin + (16 * Page)]));
        var overlap = Assert.Throws<InvalidGuestAddressException>(() => (object)GuestLayout.Of(regions, [origin, origin + (3 * Page)]));
        Assert.Contains("regions 0 and 1", overlap.Message, StringComparison.Ordinal);

        var layout = GuestLayout.Of(regions, [origin + (2 * Page), origin]);
        Assert.False(layout.IsHost);
        Assert.True(GuestLayout.Host(regions).IsHost);
        Assert.Equal(((ulong)regions[1].HostAddress + (ulong)Page, 1), layout.ToHost((ulong)origin + (ulong)Page));
        Assert.Equal(((ulong)regions[0].HostAddress, 0), layout.ToHost((ulong)origin + (ulong)(2 * Page)));
        Assert.Null(layout.ToHost((ulong)origin + (ulong)(6 * Page)));
    }

    private static byte[] Content(long page)
    {
        var bytes = new byte[Page];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((page * 31) + (i % 251) + 1);
        }

        return bytes;
    }

    // Even pages were written; odd ones never were.
    private static byte[] Expected(long page) => page % 2 == 0 ? Content(page) : new byte[Page];
}
