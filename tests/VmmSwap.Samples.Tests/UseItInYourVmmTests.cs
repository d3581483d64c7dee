using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
namespace VmmSwap.Samples.Tests;

/// <summary>The README's "Use it in your VMM" code runs as written: a guest swapped out and back in, every page intact.</summary>
public sealed class UseItInYourVmmTests
{
    [Fact]
    public async Task The_readme_code_swaps_a_guest_out_and_back_in_with_its_data_intact()
    {
        const int Pages = 64;
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(Pages));
        var expected = new byte[Pages][];
        var random = new Random(71);
        for (var p = 0; p < Pages; p++)
        {
            expected[p] = new byte[PageSize.Bytes];
            random.NextBytes(expected[p]);
            guest.Write(guest.PageAddress(p), expected[p]);
        }

        var swappedOut = await UseItInYourVmm.RunAsync(guest).WaitAsync(TimeSpan.FromMinutes(2));

        // The guest was out in the swap file, and is back: removed, it is plain memory again.
        Assert.Equal(Pages, swappedOut.Metrics.SwapPages);
        var page = new byte[PageSize.Bytes];
        for (var p = 0; p < Pages; p++)
        {
            guest.Read(guest.PageAddress(p), page);
            Assert.True(page.AsSpan().SequenceEqual(expected[p]), $"page {p} changed");
        }
    }
}
