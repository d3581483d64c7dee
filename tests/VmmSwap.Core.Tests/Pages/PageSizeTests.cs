using System.Numerics;
using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Tests.Pages;

public sealed class PageSizeTests
{
    private static readonly ulong Page = (ulong)PageSize.Bytes;

    [Fact]
    public void The_page_sizes_are_powers_of_two_and_the_huge_page_holds_whole_pages()
    {
        Assert.Equal(Environment.SystemPageSize, PageSize.Bytes);
        Assert.True(BitOperations.IsPow2(PageSize.Bytes));
        Assert.Equal(PageSize.Bytes, 1 << PageSize.Shift);
        Assert.True(BitOperations.IsPow2(PageSize.HugeBytes));
        Assert.True(PageSize.HugeBytes > PageSize.Bytes);
        Assert.Equal(0, PageSize.HugeBytes % PageSize.Bytes);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(511L)]
    [InlineData(512L)]
    [InlineData(0x7_ffff_ffffL)]
    public void A_page_index_and_its_address_convert_both_ways(long index)
    {
        var address = PageSize.PageIndexToAddress(index);
        Assert.Equal((ulong)index * Page, address);
        Assert.Equal(index, PageSize.AddressToPageIndex(address));
        Assert.Equal(index, PageSize.AddressToPageIndex(address + Page - 1));
        Assert.Equal(index + 1, PageSize.AddressToPageIndex(address + Page));
    }

    [Fact]
    public void PageBase_rounds_an_address_down_to_its_page()
    {
        var base3 = 3 * Page;
        Assert.Equal(base3, PageSize.PageBase(base3));
        Assert.Equal(base3, PageSize.PageBase(base3 + 1));
        Assert.Equal(base3, PageSize.PageBase(base3 + Page - 1));
        Assert.Equal(base3 + Page, PageSize.PageBase(base3 + Page));
        Assert.Equal(0UL, PageSize.PageBase(Page - 1));
        Assert.Equal(0x7fff_ffff_f000UL & ~(Page - 1), PageSize.PageBase(0x7fff_ffff_fabcUL));
    }

    [Fact]
    public void IsAligned_is_true_only_for_multiples_of_the_page_size()
    {
        Assert.True(PageSize.IsAligned(0));
        Assert.True(PageSize.IsAligned(Page));
        Assert.True(PageSize.IsAligned(3 * Page));
        Assert.False(PageSize.IsAligned(1));
        Assert.False(PageSize.IsAligned(Page - 1));
        Assert.False(PageSize.IsAligned(Page + 1));
        Assert.False(PageSize.IsAligned((3 * Page) + 8));
        Assert.False(PageSize.IsAligned(Page / 2));
    }

    [Fact]
    public void BytesToPages_rounds_down_and_PagesToBytes_multiplies()
    {
        Assert.Equal(0, PageSize.BytesToPages(0));
        Assert.Equal(0, PageSize.BytesToPages(Page - 1));
        Assert.Equal(1, PageSize.BytesToPages(Page));
        Assert.Equal(2, PageSize.BytesToPages((2 * Page) + 1));
        Assert.Equal(2, PageSize.BytesToPages((3 * Page) - 1));

        Assert.Equal(0UL, PageSize.PagesToBytes(0));
        Assert.Equal(Page, PageSize.PagesToBytes(1));
        Assert.Equal(3 * Page, PageSize.PagesToBytes(3));
        Assert.Equal(1L << 30, (long)PageSize.PagesToBytes(PageSize.BytesToPages(1UL << 30)));
        Assert.Equal(1_000_000, PageSize.BytesToPages(PageSize.PagesToBytes(1_000_000)));
    }

    [Fact]
    public void IsHugePageAligned_is_true_only_for_multiples_of_the_huge_page_size()
    {
        var huge = (ulong)PageSize.HugeBytes;
        Assert.True(PageSize.IsHugePageAligned(0));
        Assert.True(PageSize.IsHugePageAligned(huge));
        Assert.True(PageSize.IsHugePageAligned(5 * huge));
        Assert.False(PageSize.IsHugePageAligned(Page));
        Assert.False(PageSize.IsHugePageAligned(huge - Page));
        Assert.False(PageSize.IsHugePageAligned(huge + Page));
        Assert.False(PageSize.IsHugePageAligned(huge / 2));
        Assert.False(PageSize.IsHugePageAligned(1));
    }

    [Fact]
    public void RoundUpHugePage_rounds_up_to_the_next_huge_page_boundary()
    {
        var huge = (ulong)PageSize.HugeBytes;
        Assert.Equal(0UL, PageSize.RoundUpHugePage(0));
        Assert.Equal(huge, PageSize.RoundUpHugePage(1));
        Assert.Equal(huge, PageSize.RoundUpHugePage(Page));
        Assert.Equal(huge, PageSize.RoundUpHugePage(huge - 1));
        Assert.Equal(huge, PageSize.RoundUpHugePage(huge));
        Assert.Equal(2 * huge, PageSize.RoundUpHugePage(huge + 1));
        Assert.Equal(2 * huge, PageSize.RoundUpHugePage((2 * huge) - Page));
        Assert.Equal(8 * huge, PageSize.RoundUpHugePage(8 * huge));
        Assert.True(PageSize.IsHugePageAligned(PageSize.RoundUpHugePage((3 * huge) + (5 * Page))));
    }
}
