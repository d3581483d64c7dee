using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests.Memory;

/// <summary>Shared mappings at a chosen address, as a second process maps a guest's memfds where the first did.</summary>
public sealed unsafe class MemoryMappingTests
{
    private static readonly ulong Page = (ulong)SystemPageSizes.PageSize;

    [Fact]
    public void A_memfd_mapped_at_a_chosen_address_shares_its_bytes_with_the_first_mapping()
    {
        using var memFd = MemFd.Create("map at", (long)(4 * Page));
        using var first = MemoryMapping.MapShared(memFd, 0, 4 * Page, writable: true);
        var address = QuietAddress;

        using var second = MemoryMapping.MapSharedAt(address, memFd, 0, 4 * Page, writable: true);
        *(long*)(first.Address + (nint)Page) = 0x1234_5678;

        Assert.Equal(address, second.Address);
        Assert.Equal(0x1234_5678, *(long*)(second.Address + (nint)Page));
    }

    [Fact]
    public void An_address_already_mapped_is_refused_with_EEXIST_and_left_as_it_was()
    {
        using var memFd = MemFd.Create("map at", (long)(2 * Page));
        using var existing = MemoryMapping.MapShared(memFd, 0, 2 * Page, writable: true);
        *(long*)existing.Address = 42;

        var error = Assert.Throws<NativeCallException>(() => MemoryMapping.MapSharedAt(existing.Address + (nint)Page, memFd, 0, 2 * Page, writable: true));

        Assert.Equal("mmap(MAP_FIXED_NOREPLACE)", error.Call);
        Assert.Equal("EEXIST", error.ErrnoName);
        Assert.Contains("overlaps a mapping that is already there", error.Message, StringComparison.Ordinal);
        Assert.Equal(42, *(long*)existing.Address);
    }

    // 32 TiB: far below where the kernel places mappings of its own choice (near the top of the
    // 47-bit address space) and far above the program and its heap, so nothing else lands there.
    // A range just freed by this test would not do: another thread's next mmap may take it.
    private static nint QuietAddress => unchecked((nint)0x2000_0000_0000);
}
