using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Events;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Handler;

/// <summary>The kernel behaviours the fault path meets (docs/ARCHITECTURE.md, "The fault path"), met on a real userfaultfd without a server thread.</summary>
public sealed class KernelPitfallTests : IDisposable
{
    private static readonly int Page = PageSize.Bytes;
    private readonly GuestMemory _guest = GuestMemory.Create(PageSize.PagesToBytes(16));
    private readonly Userfaultfd _uffd = Userfaultfd.Create();
    private readonly PageHandler _handler;

    public KernelPitfallTests()
    {
        for (var p = 0; p < 8; p++)
        {
            _guest.Fill(_guest.PageAddress(p), (byte)(p + 1), (ulong)Page);
        }

        _handler = PageHandler.Create(_guest.Regions, Path.GetTempPath());
        var region = _guest.Regions[0];
        _uffd.Register(region.HostAddress, region.Size);
        foreach (var batch in _handler.MoveToStaging(region.HostAddress).Batches)
        {
            batch.Execute();
        }
    }

    public void Dispose()
    {
        _uffd.Dispose();
        _handler.Dispose();
        _guest.Dispose();
    }

    [Fact]
    public void While_a_remove_event_is_pending_a_fault_is_deferred_with_no_state_change_then_served_after_the_event()
    {
        // A balloon frees page 10: its madvise queues a remove event and blocks until the event is read.
        var balloon = new Thread(() => Madvise.Apply(_guest.PageAddress(10), (ulong)Page, MemoryAdvice.Remove)) { IsBackground = true };
        balloon.Start();
        using (var epoll = new Epoll())
        {
            epoll.Add(_uffd.Fd, 1);
            Span<ulong> ready = stackalloc ulong[1];
            Assert.Equal(1, epoll.Wait(ready, 10_000));
        }

        var staged = _handler.Staging.PresentPages;
        Assert.Throws<UffdRetryException>(() => _handler.HandlePageFault(_uffd, (ulong)_guest.PageAddress(3)));
        Assert.Equal(staged, _handler.Staging.PresentPages);

        Span<UffdEvent> events = stackalloc UffdEvent[4];
        Assert.Equal(1, _uffd.ReadEvents(events));
        Assert.Equal(UffdEventKind.Remove, events[0].Kind);
        _handler.HandlePageRemove(events[0].Address, events[0].End);
        Assert.True(balloon.Join(TimeSpan.FromSeconds(10)), "madvise did not return after its event was read");

        _handler.HandlePageFault(_uffd, (ulong)_guest.PageAddress(3));
        Assert.Equal(staged - 1, _handler.Staging.PresentPages);
        var back = new byte[Page];
        Assert.True(Blocking.RunOnThread(() => _guest.Read(_guest.PageAddress(3), back), TimeSpan.FromSeconds(10)));
        Assert.All(back, b => Assert.Equal(4, b));
    }

    [Fact]
    public void A_fault_read_before_the_remove_of_its_page_ends_with_the_page_removed()
    {
        // Out of causal order: the fault on page 2 is served from staging, then the remove of page 2 arrives.
        _handler.HandlePageFault(_uffd, (ulong)_guest.PageAddress(2));
        _handler.HandlePageRemove((ulong)_guest.PageAddress(2), (ulong)_guest.PageAddress(3));

        Assert.False(_handler.Staging.IsPresent(2));
        Assert.False(_handler.File.IsPresent(2));
        Assert.Equal(1, _handler.Metrics().CopiedFromStagingPages);
    }
}
