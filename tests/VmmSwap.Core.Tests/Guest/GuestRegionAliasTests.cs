using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Guest;

/// <summary>
/// Two guest regions that map the same memfd bytes at different host addresses: a page faulted
/// into one is already present in the other, so serving the other's fault fails with EEXIST.
/// Such regions are refused where regions are combined, naming both.
/// </summary>
public sealed class GuestRegionAliasTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void Regions_mapping_overlapping_bytes_of_one_memfd_are_refused_naming_both()
    {
        using var memfd = new SharedMemFd(4);
        var first = memfd.Map(0, 3);
        var second = memfd.Map(2, 2);
        var regions = new[]
        {
            GuestRegion.Adopt(first.Address, first.Length, memfd.Fd, 0),
            GuestRegion.Adopt(second.Address, second.Length, memfd.Reopen(), 2 * Page),
        };

        var error = Assert.Throws<AliasedGuestRegionsException>(() => new GuestMemory(regions));
        var handler = Assert.Throws<AliasedGuestRegionsException>(() => PageHandler.Create(regions, Path.GetTempPath()));

        Assert.Equal(error.Message, handler.Message);
        Assert.Contains($"0x{first.Address:X}..0x{first.Address + (3 * Page):X}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{second.Address:X}..0x{second.Address + (2 * Page):X}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"bytes 0x0..0x{3 * Page:X}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"bytes 0x{2 * Page:X}..0x{4 * Page:X}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"bytes 0x{2 * Page:X}..0x{3 * Page:X}:", error.Message, StringComparison.Ordinal);
        var memFd = FileOps.Status(memfd.Fd);
        Assert.Contains($"st_dev {memFd.DeviceNumber} st_ino {memFd.Inode}", error.Message, StringComparison.Ordinal);
        Assert.Same(regions[0], error.First);
        Assert.Same(regions[1], error.Second);
    }

    [Fact]
    public void Regions_of_one_memfd_at_disjoint_offsets_are_accepted()
    {
        using var memfd = new SharedMemFd(4);
        var first = memfd.Map(0, 2);
        var second = memfd.Map(2, 2);
        var regions = new[]
        {
            GuestRegion.Adopt(second.Address, second.Length, memfd.Reopen(), 2 * Page),
            GuestRegion.Adopt(first.Address, first.Length, memfd.Fd, 0),
        };

        using var guest = new GuestMemory(regions);
        using var handler = PageHandler.Create(regions, Path.GetTempPath());

        Assert.Equal(4, guest.PageCount);
    }
}
