using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Guest;

public sealed unsafe class GuestMemoryTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void Pages_are_numbered_through_the_regions_in_order()
    {
        using var guest = GuestMemory.Create((ulong)(4 * Page), (ulong)(2 * Page));
        Assert.Equal(6, guest.PageCount);
        Assert.Equal((ulong)(6 * Page), guest.Size);
        Assert.Equal(guest.Regions[0].HostAddress + (3 * Page), guest.PageAddress(3));
        Assert.Equal(guest.Regions[1].HostAddress, guest.PageAddress(4));
        Assert.Equal(guest.Regions[1].HostAddress + Page, guest.PageAddress(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => guest.PageAddress(6));
    }

    [Fact]
    public void Write_read_fill_and_checksum_round_trip()
    {
        using var guest = GuestMemory.Create((ulong)(4 * Page));
        var page = new byte[Page];
        Random.Shared.NextBytes(page);
        var address = guest.PageAddress(2);
        guest.Write(address, page);

        var back = new byte[Page];
        guest.Read(address, back);
        Assert.Equal(page, back);
        Assert.Equal(GuestMemory.ChecksumOf(page), guest.PageChecksum(address));

        guest.Fill(address + 100, 0xEE, 50);
        guest.Read(address, back);
        Assert.All(back.AsSpan(100, 50).ToArray(), b => Assert.Equal(0xEE, b));
        Assert.Equal(page[99], back[99]);
        Assert.NotEqual(GuestMemory.ChecksumOf(page), guest.PageChecksum(address));
    }

    [Fact]
    public void A_removed_page_is_freed_from_its_memfd_and_reads_as_zeros()
    {
        using var guest = GuestMemory.Create((ulong)(4 * Page));
        for (long p = 0; p < 4; p++)
        {
            guest.Fill(guest.PageAddress(p), 0x5A, (ulong)Page);
        }

        guest.Remove(guest.PageAddress(1), (ulong)Page);

        Assert.Equal(3, guest.Regions[0].ResidentPages());
        Assert.Equal(GuestMemory.ChecksumOf(new byte[Page]), guest.PageChecksum(guest.PageAddress(1)));
        Assert.NotEqual(GuestMemory.ChecksumOf(new byte[Page]), guest.PageChecksum(guest.PageAddress(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => guest.Remove(guest.PageAddress(3), (ulong)(2 * Page)));
    }

    [Fact]
    public void Accesses_outside_a_region_are_refused_with_the_range()
    {
        using var guest = GuestMemory.Create((ulong)(2 * Page), (ulong)(2 * Page));
        var end = guest.Regions[0].HostAddress + (2 * Page);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => guest.Read(end - 8, new byte[16]));
        Assert.Contains($"0x{end - 8:X}", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => guest.PageChecksum(guest.PageAddress(0) + 1));
    }

    [Fact]
    public void Bad_regions_are_refused_with_the_cause()
    {
        var unaligned = Assert.Throws<ArgumentException>(() => GuestRegion.Create("bad", (ulong)Page + 1));
        Assert.Contains("not a multiple", unaligned.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestRegion.Create("empty", 0));

        using var region = GuestRegion.Create("real", (ulong)(4 * Page));
        var first = GuestRegion.Adopt(region.HostAddress, (ulong)(2 * Page), region.MemFd, 0);
        var second = GuestRegion.Adopt(region.HostAddress + Page, (ulong)(2 * Page), region.MemFd, Page);
        var overlap = Assert.Throws<ArgumentException>(() => new GuestMemory([first, second]));
        Assert.Contains("overlap", overlap.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => GuestRegion.Adopt(region.HostAddress + 8, (ulong)Page, region.MemFd, 0));
    }

    [Fact]
    public void A_reader_faulting_through_guest_memory_gets_the_bytes_the_handler_copies()
    {
        using var guest = GuestMemory.Create((ulong)(8 * Page));
        using var uffd = Userfaultfd.Create();
        var region = guest.Regions[0];
        uffd.Register(region.HostAddress, region.Size);
        var source = new byte[Page];
        Random.Shared.NextBytes(source);

        var back = new byte[Page];
        using (new FaultServer(uffd, (u, e) =>
        {
            fixed (byte* p = source)
            {
                u.Copy((nint)PageSize.PageBase(e.Address), (nint)p, (ulong)Page, wake: true);
            }
        }))
        {
            Assert.True(Blocking.RunOnThread(() => guest.Read(guest.PageAddress(4), back), TimeSpan.FromSeconds(20)), "fault not served");
        }

        Assert.Equal(source, back);
    }
}
