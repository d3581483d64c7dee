using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

/// <summary>
/// A host that maps one memfd at several host addresses: regions sharing memfd bytes never reach
/// the runtime (swap-in would find their pages already populated, EEXIST, and fail); regions at
/// disjoint offsets of the memfd swap out and back like separate memfds.
/// </summary>
public sealed class GuestRegionAliasTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void A_guest_whose_regions_share_memfd_bytes_is_refused_before_the_runtime_starts()
    {
        using var memfd = new SharedMemFd(8);
        var first = memfd.Map(0, 6);
        var second = memfd.Map(2, 6);
        GuestRegion[] regions =
        [
            GuestRegion.Adopt(first.Address, first.Length, memfd.Fd, 0),
            GuestRegion.Adopt(second.Address, second.Length, memfd.Fd, 2 * Page),
        ];

        var error = Assert.Throws<AliasedGuestRegionsException>(() => SwapController.Start(Sys, new GuestMemory(regions), Options(), name: "aliased"));

        Assert.Contains($"0x{first.Address:X}..", error.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{second.Address:X}..", error.Message, StringComparison.Ordinal);
        Assert.Contains($"bytes 0x{2 * Page:X}..0x{6 * Page:X}", error.Message, StringComparison.Ordinal);

        // Nothing was started under the name, and the regions still work as guest memory.
        using var guest = new GuestFixture(new GuestMemory([GuestRegion.Adopt(first.Address, first.Length, memfd.Fd, 0)]));
        Assert.NotNull(SwapController.Start(Sys, guest.Memory, Options(), name: "aliased").Supervisor);
    }

    [Fact]
    public async Task Regions_at_disjoint_offsets_of_one_memfd_swap_out_and_back_intact()
    {
        using var memfd = new SharedMemFd(96);
        var low = memfd.Map(0, 32);
        var high = memfd.Map(32, 64);
        using var guest = new GuestFixture(new GuestMemory(
        [
            GuestRegion.Adopt(high.Address, high.Length, memfd.Reopen(), 32 * Page),
            GuestRegion.Adopt(low.Address, low.Length, memfd.Fd, 0),
        ]));
        guest.Fill(seed: 60);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "same-memfd");

        Assert.Equal(guest.WrittenPages, (await swap.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(guest.Expected[40], guest.ReadPage(40));
        Assert.Equal(guest.Expected[70], guest.ReadPage(70));
        await swap.DisableAsync().WaitAsync(Deadline);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        Assert.Null(ready.Error);
        Assert.Empty(guest.Mismatches());
    }
}
