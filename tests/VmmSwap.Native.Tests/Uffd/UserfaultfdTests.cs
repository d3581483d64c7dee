using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Uffd;

public sealed unsafe class UserfaultfdTests : IDisposable
{
    private const int Pages = 8;
    private static readonly int Page = SystemPageSizes.PageSize;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly SafeFd _memFd = MemFd.Create("uffd test", Pages * Page);
    private readonly MemoryMapping _mapping;
    private readonly Userfaultfd _uffd = Userfaultfd.Create();

    public UserfaultfdTests()
    {
        _mapping = MemoryMapping.MapShared(_memFd, 0, (ulong)(Pages * Page), writable: true);
        _uffd.Register(_mapping.Address, _mapping.Length);
    }

    public void Dispose()
    {
        _uffd.Dispose();
        _mapping.Dispose();
        _memFd.Dispose();
    }

    [Fact]
    public void Copy_serves_a_missing_page_fault_with_the_given_bytes()
    {
        var source = Pattern(0x5A);
        var faults = new List<UffdEvent>();
        using (new FaultServer(_uffd, (uffd, e) =>
        {
            faults.Add(e);
            fixed (byte* p = source)
            {
                uffd.Copy((nint)PageOf(e.Address), (nint)p, (ulong)Page, wake: true);
            }
        }))
        {
            var seen = ReadPageOnThread(3);
            Assert.Equal(source, seen);
        }

        var fault = Assert.Single(faults);
        Assert.Equal(UffdEventKind.PageFault, fault.Kind);
        Assert.Equal((ulong)(_mapping.Address + (3 * Page)), PageOf(fault.Address));
        Assert.False(fault.IsWrite);
    }

    [Fact]
    public void ZeroPage_serves_a_fault_and_a_second_zero_page_reports_page_exists()
    {
        using (new FaultServer(_uffd, (uffd, e) => uffd.ZeroPage((nint)PageOf(e.Address), (ulong)Page, wake: true)))
        {
            Assert.All(ReadPageOnThread(5), b => Assert.Equal(0, b));
        }

        var error = Assert.Throws<UffdPageExistsException>(() => _uffd.ZeroPage(_mapping.Address + (5 * Page), (ulong)Page, wake: true));
        Assert.Equal(17, error.Errno);
        Assert.Contains("UFFDIO_ZEROPAGE", error.Message, StringComparison.Ordinal);
        Assert.Contains("EEXIST", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Copy_onto_a_populated_page_surfaces_page_exists_as_its_own_error()
    {
        var source = Pattern(1);
        fixed (byte* p = source)
        {
            var from = (nint)p;
            _uffd.Copy(_mapping.Address, from, (ulong)Page, wake: false);
            var error = Assert.Throws<UffdPageExistsException>(() => _uffd.Copy(_mapping.Address, from, (ulong)Page, wake: false));
            Assert.Equal((ulong)_mapping.Address, error.Address);
            Assert.Contains("UFFDIO_COPY", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Multi_page_copy_fills_every_page()
    {
        var source = new byte[4 * Page];
        Random.Shared.NextBytes(source);
        fixed (byte* p = source)
        {
            _uffd.Copy(_mapping.Address + Page, (nint)p, (ulong)source.Length, wake: false);
        }

        var back = new byte[source.Length];
        fixed (byte* b = back)
        {
            NativeBytes.Copy((nint)b, _mapping.Address + Page, (ulong)back.Length);
        }

        Assert.Equal(source, back);
    }

    [Fact]
    public void Madvise_remove_of_a_registered_range_raises_a_remove_event_with_its_bounds()
    {
        var source = new byte[Pages * Page];
        fixed (byte* p = source)
        {
            _uffd.Copy(_mapping.Address, (nint)p, (ulong)source.Length, wake: false);
        }

        var removes = new List<UffdEvent>();
        using (new FaultServer(_uffd, (_, e) => removes.Add(e)))
        {
            // madvise blocks until the remove event has been read, so it runs off the test thread.
            Assert.True(
                Blocking.RunOnThread(() => Madvise.Apply(_mapping.Address + (2 * Page), (ulong)(3 * Page), MemoryAdvice.Remove), Deadline),
                "madvise(MADV_REMOVE) did not return: the remove event was never read");
        }

        var removed = Assert.Single(removes);
        Assert.Equal(UffdEventKind.Remove, removed.Kind);
        Assert.Equal((ulong)(_mapping.Address + (2 * Page)), removed.Address);
        Assert.Equal((ulong)(_mapping.Address + (5 * Page)), removed.End);
    }

    [Fact]
    public void Punching_a_hole_in_the_memfd_empties_the_page_without_a_remove_event()
    {
        // The runtime frees moved guest pages this way: no remove event, yet the next touch faults.
        var source = Pattern(7);
        fixed (byte* p = source)
        {
            _uffd.Copy(_mapping.Address + (6 * Page), (nint)p, (ulong)Page, wake: false);
        }

        FileOps.PunchHole(_memFd, 6 * Page, Page);
        Span<UffdEvent> events = stackalloc UffdEvent[4];
        Assert.Equal(0, _uffd.ReadEvents(events));

        var faults = 0;
        using (new FaultServer(_uffd, (uffd, e) =>
        {
            faults++;
            uffd.ZeroPage((nint)PageOf(e.Address), (ulong)Page, wake: true);
        }))
        {
            Assert.All(ReadPageOnThread(6), b => Assert.Equal(0, b));
        }

        Assert.Equal(1, faults);
    }

    [Fact]
    public void Wake_on_a_range_without_waiters_succeeds()
    {
        _uffd.Wake(_mapping.Address, (ulong)Page);
    }

    [Fact]
    public void Reading_an_idle_userfaultfd_returns_no_events()
    {
        Span<UffdEvent> events = stackalloc UffdEvent[8];
        Assert.Equal(0, _uffd.ReadEvents(events));
    }

    [Fact]
    public void Unaligned_address_or_length_is_refused_with_the_cause()
    {
        var address = Assert.Throws<ArgumentException>(() => _uffd.Register(_mapping.Address + 1, (ulong)Page));
        Assert.Contains("not aligned", address.Message, StringComparison.Ordinal);
        Assert.Contains("UFFDIO_REGISTER", address.Message, StringComparison.Ordinal);

        var length = Assert.Throws<ArgumentException>(() => _uffd.ZeroPage(_mapping.Address, 100, wake: true));
        Assert.Contains("not a positive multiple", length.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registering_memory_that_is_not_mapped_names_the_call_and_range()
    {
        using var other = Userfaultfd.Create();
        var error = Assert.Throws<NativeCallException>(() => other.Register(Page, (ulong)Page));
        Assert.Contains("UFFDIO_REGISTER", error.Message, StringComparison.Ordinal);
        Assert.Contains("0x1000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_closed_userfaultfd_is_refused()
    {
        var uffd = Userfaultfd.Create();
        uffd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => uffd.ReadEvents(new UffdEvent[1]));
        Assert.Throws<ObjectDisposedException>(() => uffd.Wake(_mapping.Address, (ulong)Page));
    }

    [Fact]
    public void An_unusable_device_reports_the_cause_and_the_fix()
    {
        var error = Assert.Throws<UserfaultfdUnavailableException>(() => Userfaultfd.Create("/nonexistent/userfaultfd", syscallFallback: false));
        Assert.Equal(2, error.Errno);
        Assert.Contains("/nonexistent/userfaultfd", error.Message, StringComparison.Ordinal);
        Assert.Contains("ENOENT", error.Message, StringComparison.Ordinal);
        Assert.Contains("vm.unprivileged_userfaultfd=1", error.Fix, StringComparison.Ordinal);
    }

    private static byte[] Pattern(byte seed)
    {
        var bytes = new byte[Page];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(seed + i);
        }

        return bytes;
    }

    private static ulong PageOf(ulong address) => address & ~(ulong)(Page - 1);

    private byte[] ReadPageOnThread(int page)
    {
        var buffer = new byte[Page];
        var address = _mapping.Address + (page * Page);
        var served = Blocking.RunOnThread(
            () =>
            {
                fixed (byte* b = buffer)
                {
                    NativeBytes.Copy((nint)b, address, (ulong)Page);
                }
            },
            Deadline);
        Assert.True(served, $"the read of page {page} was not served within {Deadline.TotalSeconds} s");
        return buffer;
    }
}
