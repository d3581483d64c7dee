using VmmSwap.Core.Work;
using static VmmSwap.Core.Tests.Support.ParkedPages;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// Fault reads started on an io_uring from the thread that serves faults (real userfaultfd, real
/// swap file, real ring): the parked fault gets the file's bytes once the completion is reaped,
/// and a page state closed while a ring read is in flight waits for it there, on that thread.
/// </summary>
public sealed class FaultReadRingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_fault_parked_on_a_ring_read_gets_the_files_bytes_when_its_completion_is_reaped()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        using var ring = FaultReadRing.Create();
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();

        Assert.True(ring.Start(read));
        Assert.Equal(1, ring.InFlight);
        var done = ReapOne(ring);

        Assert.Same(read, done.Read);
        Assert.Null(done.Error);
        Assert.Equal(0, ring.InFlight);
        swap.FinishRead(read, succeeded: true);
        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
        Assert.Equal(Page(5), swap.Read(5));
        Assert.Equal(2, swap.Metrics().CopiedFromFilePages);
    }

    [Fact]
    public async Task Disable_with_a_ring_read_not_yet_reaped_waits_for_it_on_the_ring_and_loses_no_page()
    {
        // The read's completion is reaped only by the thread that started it: a close that waited
        // for it as for a reader thread's read would wait the whole deadline, then fail.
        using var swap = SwappedOut(pages: 16, written: 16);
        using var ring = FaultReadRing.Create();
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();
        Assert.True(ring.Start(read));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        swap.Disable();

        Assert.True(clock.Elapsed < Deadline / 2, $"Disable took {clock.Elapsed}");
        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
        for (var p = 0; p < 16; p++)
        {
            Assert.Equal(Page(p), swap.Read(p));
        }

        var late = ring.Reap();
        Assert.Equal(read, Assert.Single(late).Read);
        Assert.Equal(0, ring.InFlight);
    }

    [Fact]
    public async Task A_read_whose_page_state_closed_before_it_started_is_not_started()
    {
        using var swap = SwappedOut(pages: 16, written: 16);
        using var ring = FaultReadRing.Create();
        var parked = ReadOnThread(swap, 3);
        var read = swap.TakeRead();

        swap.Disable();

        Assert.False(ring.Start(read));
        Assert.Equal(0, ring.InFlight);
        Assert.Empty(ring.Reap());
        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
    }

    private static FaultReadCompletion ReapOne(FaultReadRing ring)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < Deadline)
        {
            var done = ring.Reap();
            if (done.Count > 0)
            {
                return Assert.Single(done);
            }

            Thread.Sleep(1);
        }

        throw new TimeoutException($"no completion within {Deadline.TotalSeconds} s");
    }
}
