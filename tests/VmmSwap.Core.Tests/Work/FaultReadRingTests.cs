using VmmSwap.Core.Pages;
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
        using var setup = ParkedOnPage3();
        var (swap, ring, parked, read) = (setup.Swap, setup.Ring, setup.Parked, setup.Read);

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
        using var setup = ParkedOnPage3();
        var (swap, ring, parked, read) = (setup.Swap, setup.Ring, setup.Parked, setup.Read);
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
        using var setup = ParkedOnPage3();
        var (swap, ring, parked, read) = (setup.Swap, setup.Ring, setup.Parked, setup.Read);

        swap.Disable();

        Assert.False(ring.Start(read));
        Assert.Equal(0, ring.InFlight);
        Assert.Empty(ring.Reap());
        Assert.Equal(Page(3), await parked.WaitAsync(Deadline));
    }

    [Fact]
    public void The_ring_has_room_for_64_reads_in_flight_and_again_once_they_are_reaped()
    {
        // Beyond that the runtime reads on its fault readers: more could overflow the kernel's
        // completion queue, whose overflow only a call into the ring flushes.
        using var swap = SwappedOut(pages: 64, written: 64);
        using var ring = FaultReadRing.Create();
        var file = swap.Handler.File;
        var reads = Enumerable.Range(0, 64)
            .Select(i => new FaultRead(file, new PageRange(i, i + 1), new PageRange(i, i), null, new DeferredFrees(swap.Handler.Staging, file)))
            .ToList();

        foreach (var read in reads)
        {
            Assert.True(ring.HasRoom);
            Assert.True(ring.Start(read));
        }

        Assert.False(ring.HasRoom);
        var reaped = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (reaped < 64 && clock.Elapsed < Deadline)
        {
            ring.WaitFor(reads[^1], Deadline);
            reaped += ring.Reap().Count(c => c.Error is null);
        }

        Assert.Equal(64, reaped);
        Assert.True(ring.HasRoom);
        reads.ForEach(r => r.FreeBuffer());
    }

    // A swapped-out guest of 16 written pages, a ring, and a guest read of page 3 parked on the
    // read the harness planned for it (not started).
    private static ParkedRead ParkedOnPage3()
    {
        var swap = SwappedOut(pages: 16, written: 16);
        var parked = ReadOnThread(swap, 3);
        return new ParkedRead(swap, FaultReadRing.Create(), parked, swap.TakeRead());
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

    private sealed record ParkedRead(SwapHarness Swap, FaultReadRing Ring, Task<byte[]> Parked, FaultRead Read) : IDisposable
    {
        public void Dispose()
        {
            Ring.Dispose();
            Swap.Dispose();
        }
    }
}
