using VmmSwap.Actors.Jobs;
using VmmSwap.Actors.Workers;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Jobs;

/// <summary>
/// The PageHandler actor's job drivers with a swap-in's reads ahead in flight, on a real guest and
/// swap file: the page-worker pool is a probe, so the test decides when each read runs and answers.
/// </summary>
public sealed class JobDriversTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private const ulong Chunk = 2 << 20;

    [Fact]
    public void A_swap_in_reads_two_windows_ahead_and_plans_the_next_once_one_is_copied_from()
    {
        using var swapped = SwappedOutGuest.Create(Chunk * 4);
        var (drivers, pool, first, _) = StartSwapIn(swapped);
        pool.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        first.Execute();
        drivers.WorkDone(first, null);
        pool.ExpectMsg<ExecuteWork>();
        drivers.EndRunning();
    }

    [Fact]
    public void An_ended_swap_in_keeps_its_buffers_until_every_read_ahead_answered()
    {
        using var swapped = SwappedOutGuest.Create(Chunk * 4);
        var (drivers, _, first, second) = StartSwapIn(swapped);

        drivers.EndRunning();
        Assert.Equal(1, drivers.EndedCount);
        drivers.WorkDone(first, null);
        Assert.Equal(1, drivers.EndedCount);

        // Its buffer is still mapped: a read into a freed one would take this process down.
        second.Execute();
        drivers.WorkDone(second, null);
        Assert.Equal(0, drivers.EndedCount);
    }

    [Fact]
    public void Closing_an_ended_swap_in_cancels_every_read_that_has_not_started()
    {
        using var swapped = SwappedOutGuest.Create(Chunk * 4);
        var (drivers, _, first, second) = StartSwapIn(swapped);
        drivers.EndRunning();

        Assert.True(drivers.CloseEnded(TimeSpan.Zero));
        Assert.Equal(0, drivers.EndedCount);

        // Cancelled: neither touches the freed buffers when a page worker gets to it.
        first.Execute();
        second.Execute();
    }

    // A swap-in's first chunk on drivers whose page-worker pool is a probe: its two reads ahead.
    private (JobDrivers Drivers, Akka.TestKit.TestProbe Pool, PageWork First, PageWork Second) StartSwapIn(SwappedOutGuest swapped)
    {
        var pool = CreateTestProbe();
        var drivers = new JobDrivers(new JobContext(Options(), Sys.Log, pool.Ref, CreateTestProbe().Ref));
        drivers.RunChunk(JobKind.SwapIn, CreateTestProbe().Ref, swapped.Handler, swapped.Uffd);
        var first = pool.ExpectMsg<ExecuteWork>().Work;
        var second = pool.ExpectMsg<ExecuteWork>().Work;
        return (drivers, pool, first, second);
    }

    /// <summary>A guest of random pages, registered with a userfaultfd and swapped out whole to a file.</summary>
    private sealed class SwappedOutGuest : IDisposable
    {
        private readonly GuestFixture _guest;

        private SwappedOutGuest(GuestFixture guest, Userfaultfd uffd, PageHandler handler)
        {
            _guest = guest;
            Uffd = uffd;
            Handler = handler;
        }

        internal Userfaultfd Uffd { get; }

        internal PageHandler Handler { get; }

        internal static SwappedOutGuest Create(ulong bytes)
        {
            var guest = new GuestFixture((long)(bytes >> 12));
            guest.Fill(seed: 5);
            var uffd = Userfaultfd.Create();
            var handler = PageHandler.Create(guest.Memory.Regions, Path.GetTempPath());
            new GuestRegistrations(guest.Memory.Regions).Add(uffd);
            foreach (var region in guest.Memory.Regions)
            {
                foreach (var batch in handler.MoveToStaging(region.HostAddress).Batches)
                {
                    batch.Execute();
                }
            }

            SwapOutStep step;
            do
            {
                step = handler.PlanSwapOutStep(Chunk);
                step.Execute();
                handler.CompleteSwapOutStep(step);
            }
            while (step is not SwapFileFlush);

            Assert.True(handler.File.NextDataRange(0, long.MaxValue) is not null, "nothing was swapped out");
            return new SwappedOutGuest(guest, uffd, handler);
        }

        public void Dispose()
        {
            Handler.Dispose();
            Uffd.Dispose();
            _guest.Dispose();
        }
    }
}
