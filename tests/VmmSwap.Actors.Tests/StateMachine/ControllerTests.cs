using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// crosvm's controller / end-to-end tests, driven through <see cref="SwapController"/>: every
/// command of the life cycle, repeated cycles, aborted swap-ins and Exit, with every guest page
/// checked against what was last written. One class past the usual length: each case is the
/// end-to-end life cycle with one variation, and they share its helpers.
/// </summary>
public sealed class ControllerTests(ITestOutputHelper output) : SwapTestKit(output)
{
    // 16 pages per swap-out / swap-in chunk: enough chunks to abort one in the middle.
    private const long ChunkPages = 16;

    [Fact]
    public async Task Enable_moves_every_written_page_to_staging_and_serves_faults_from_it()
    {
        using var guest = new GuestFixture(96, 64);
        guest.Fill(seed: 1, stride: 2);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "enable");

        var enabled = await swap.EnableAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, enabled.Outcome);
        Assert.Null(enabled.Reason);
        Assert.Equal("Enable", enabled.Command);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(guest.WrittenPages, enabled.Status.StateTransition.Pages);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        Assert.Equal(0, enabled.Status.Metrics.ResidentPages);
        Assert.Equal(0, enabled.Status.Metrics.SwapPages);
        Assert.Equal(SwapState.Pending, (await swap.StatusAsync()).State);

        // Written pages come back from staging, holes as zero pages.
        Assert.Empty(guest.Mismatches());
        var touched = await swap.StatusAsync();
        Assert.Equal(guest.WrittenPages, touched.Metrics.CopiedFromStagingPages);
        Assert.Equal(guest.Memory.PageCount - guest.WrittenPages, touched.Metrics.ZeroedPages);
        Assert.Equal(0, touched.Metrics.StagingPages);
        Assert.Equal(guest.Memory.PageCount, touched.Metrics.ResidentPages);

        await DisableAsync(swap);
    }

    [Fact]
    public async Task Swap_out_writes_staging_to_the_file_and_faults_read_it_back()
    {
        using var guest = new GuestFixture(128, 32);
        guest.Fill(seed: 2, stride: 3);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "swap-out");
        await swap.EnableAsync().WaitAsync(Deadline);

        var accepted = await swap.SwapOutAsync().WaitAsync(Deadline);
        Assert.Equal(CommandOutcome.Accepted, accepted.Outcome);
        Assert.Equal("SwapOut", accepted.Command);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);

        Assert.Equal(0, active.Metrics.StagingPages);
        Assert.Equal(guest.WrittenPages, active.Metrics.SwapPages);
        Assert.Equal(guest.WrittenPages, active.StateTransition.Pages);
        Assert.Equal(0, active.Metrics.ResidentPages);

        Assert.Empty(guest.Mismatches());
        var faulted = await swap.StatusAsync();
        Assert.Equal(SwapState.Active, faulted.State);
        Assert.Equal(guest.WrittenPages, faulted.Metrics.CopiedFromFilePages);
        Assert.Equal(0, faulted.Metrics.CopiedFromStagingPages);
        Assert.Equal(guest.Memory.PageCount - guest.WrittenPages, faulted.Metrics.ZeroedPages);
        Assert.Equal(0, faulted.Metrics.SwapPages);

        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Trim_drops_zero_pages_and_pages_unchanged_since_the_last_swap_out()
    {
        using var guest = new GuestFixture(120);
        guest.Fill(seed: 3);
        var zeroPages = guest.Expected.Count(e => e is not null && !e.AsSpan().ContainsAnyExcept((byte)0));
        Assert.True(zeroPages > 0);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { TrimChunkPages = 7 }, name: "trim");
        await swap.EnableAsync().WaitAsync(Deadline);

        // First trim: nothing is on disk yet, so only zero pages go.
        var accepted = await swap.TrimAsync().WaitAsync(Deadline);
        Assert.Equal(CommandOutcome.Accepted, accepted.Outcome);
        Assert.Equal("Trim", accepted.Command);
        var trimmed = await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.Equal(guest.WrittenPages - zeroPages, trimmed.Metrics.StagingPages);
        Assert.Equal(zeroPages, trimmed.StateTransition.Pages);

        await swap.SwapOutAsync().WaitAsync(Deadline);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        var swapped = guest.WrittenPages - zeroPages;
        Assert.Equal(swapped, active.Metrics.SwapPages);

        // Page 1 is only read (clean), page 2 is rewritten (dirty).
        Assert.Equal(guest.Expected[1], guest.ReadPage(1));
        var dirty = new byte[PageSize.Bytes];
        new Random(30).NextBytes(dirty);
        guest.WritePage(2, dirty);
        Assert.Equal(swapped - 2, (await swap.StatusAsync()).Metrics.SwapPages);

        // Second cycle: both are staged again; trim keeps only the dirty one.
        var again = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(2, again.Status.Metrics.StagingPages);
        await swap.TrimAsync().WaitAsync(Deadline);
        var retrimmed = await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.Equal(1, retrimmed.Metrics.StagingPages);
        Assert.Equal(swapped - 1, retrimmed.Metrics.SwapPages);

        await swap.SwapOutAsync().WaitAsync(Deadline);
        Assert.Equal(swapped, (await swap.WaitForStateAsync(SwapState.Active, Deadline)).Metrics.SwapPages);
        Assert.Empty(guest.Mismatches());
        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Disable_brings_every_page_back_and_unregisters_the_guest()
    {
        using var guest = new GuestFixture(100, 60);
        guest.Fill(seed: 4, stride: 2);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "disable");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        var accepted = await swap.DisableAsync().WaitAsync(Deadline);
        Assert.Equal(CommandOutcome.Accepted, accepted.Outcome);
        Assert.Equal("Disable", accepted.Command);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        Assert.Equal(SwapMetrics.Empty, ready.Metrics);
        Assert.Equal(guest.WrittenPages, ready.StateTransition.Pages);
        Assert.Empty(guest.Mismatches());

        // Everything is resident again (the check above also populated the holes, unregistered):
        // a new Enable stages every page.
        var enabled = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.Memory.PageCount, enabled.Status.Metrics.StagingPages);
        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Disable_without_ever_swapping_out_returns_staging_to_the_guest()
    {
        using var guest = new GuestFixture(64, 64);
        guest.Fill(seed: 5);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "disable-unswapped");
        var enabled = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);

        await swap.DisableAsync().WaitAsync(Deadline);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        Assert.Equal(guest.WrittenPages, ready.StateTransition.Pages);
        Assert.Equal(SwapMetrics.Empty, ready.Metrics);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Swap_out_repeatedly_keeps_the_data_of_every_cycle()
    {
        using var guest = new GuestFixture(80, 48);
        guest.Fill(seed: 6);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "swap-out-cycles");
        var random = new Random(60);

        for (var cycle = 0; cycle < 3; cycle++)
        {
            var enabled = await swap.EnableAsync().WaitAsync(Deadline);
            Assert.Equal(SwapState.Pending, enabled.Status.State);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
            Assert.Equal(0, active.Metrics.StagingPages);
            Assert.True(active.Metrics.SwapPages > 0, $"cycle {cycle}: nothing was swapped out");

            // The guest rewrites a few pages (faulting them in first), then every page is checked.
            for (var i = 0; i < 5; i++)
            {
                var page = random.NextInt64(guest.Memory.PageCount);
                var content = new byte[PageSize.Bytes];
                random.NextBytes(content);
                guest.WritePage(page, content);
            }

            Assert.Empty(guest.Mismatches());
        }

        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Exit_while_enabled_swaps_everything_in_then_stops_the_supervisor()
    {
        using var guest = new GuestFixture(96, 32);
        guest.Fill(seed: 7);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "exit-enabled");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Watch(swap.Supervisor);

        var exit = await swap.ExitAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, exit.Outcome);
        Assert.Equal("Exit", exit.Command);
        await ExpectTerminatedAsync(swap.Supervisor, Deadline);
        Assert.Empty(guest.Mismatches());

        // Exit "replies when done": the reply must describe the swapped-in, stopped runtime.
        Assert.Equal(SwapState.Ready, exit.Status.State);
        Assert.Equal(SwapMetrics.Empty, exit.Status.Metrics);
    }

    [Fact]
    public async Task Exit_while_ready_stops_at_once()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 8);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "exit-ready");
        Watch(swap.Supervisor);

        var exit = await swap.ExitAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, exit.Outcome);
        Assert.Equal(SwapState.Ready, exit.Status.State);
        await ExpectTerminatedAsync(swap.Supervisor, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Memory_contents_are_preserved_while_enabled_after_swap_out_and_after_disable()
    {
        using var guest = new GuestFixture(72, 40, 24);
        guest.Fill(seed: 9, stride: 2);
        var zero = GuestMemory.ChecksumOf(new byte[PageSize.Bytes]);
        var before = guest.Expected.Select(e => e is null ? zero : GuestMemory.ChecksumOf(e)).ToArray();
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "checksums");

        await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(before, Checksums(guest));
        Assert.Equal(guest.WrittenPages, (await swap.StatusAsync()).Metrics.CopiedFromStagingPages);

        // Re-stage everything the checksum pass faulted in, then swap it all out.
        var enabled = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.Memory.PageCount, enabled.Status.Metrics.StagingPages);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(guest.Memory.PageCount, active.Metrics.SwapPages);
        Assert.Equal(before, Checksums(guest));
        Assert.Equal(guest.Memory.PageCount, (await swap.StatusAsync()).Metrics.CopiedFromFilePages);

        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        await DisableAsync(swap);
        Assert.Equal(before, Checksums(guest));
    }

    [Fact]
    public async Task Enable_after_a_partial_swap_in_restages_exactly_the_pages_that_came_back()
    {
        using var guest = new GuestFixture(128, 64);
        guest.Fill(seed: 10);
        var swap = StartPaused(guest.Memory, Options(), name: "partial-swap-in-faults");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(guest.WrittenPages, active.Metrics.SwapPages);

        // The swap-in job is held; the guest brings a few pages back itself meanwhile.
        var disabling = await swap.DisableAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.SwapInInProgress, disabling.Status.State);
        long[] faulted = [0, 5, 63, 130, 191];
        foreach (var page in faulted)
        {
            Assert.Equal(guest.Expected[page], guest.ReadPage(page));
        }

        var partial = await swap.StatusAsync();
        Assert.Equal(SwapState.SwapInInProgress, partial.State);
        Assert.Equal(faulted.Length, partial.Metrics.CopiedFromFilePages);

        // Enable aborts the swap-in and moves what is back in the guest to staging again.
        var enabled = await swap.EnableAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, enabled.Outcome);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(faulted.Length, enabled.Status.StateTransition.Pages);
        Assert.Equal(faulted.Length, enabled.Status.Metrics.StagingPages);
        Assert.Equal(guest.WrittenPages - faulted.Length, enabled.Status.Metrics.SwapPages);
        Assert.Equal(0, enabled.Status.Metrics.ResidentPages);
        Assert.Empty(guest.Mismatches());

        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Enable_after_swap_in_chunks_ran_aborts_the_swap_in_and_keeps_every_page()
    {
        using var guest = new GuestFixture(128, 64);
        guest.Fill(seed: 13);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(ChunkPages) };
        var swap = StartPaused(guest.Memory, options, name: "partial-swap-in-chunks");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);

        // The job asks for its first chunk before it can see the abort, so at least one chunk
        // comes back; how many more run before Enable is taken in is up to the scheduler.
        ResumeJobs(swap);
        var enabled = await swap.EnableAsync().WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, enabled.Outcome);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        var restaged = enabled.Status.Metrics.StagingPages;
        Assert.InRange(restaged, ChunkPages, guest.WrittenPages);
        Assert.Equal(restaged, enabled.Status.StateTransition.Pages);
        Assert.Equal(guest.WrittenPages, restaged + enabled.Status.Metrics.SwapPages);
        Assert.Equal(0, enabled.Status.Metrics.ResidentPages);
        Assert.Empty(guest.Mismatches());

        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Enable_right_after_disable_in_repeated_cycles_keeps_every_page()
    {
        using var guest = new GuestFixture(160, 32);
        guest.Fill(seed: 11);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapChunkBytes = (ulong)PageSize.Bytes }, name: "enable-after-disable");

        for (var cycle = 0; cycle < 3; cycle++)
        {
            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);
            await swap.DisableAsync().WaitAsync(Deadline);

            // Wherever the one-page swap-in chunks have got to, Enable aborts them and restages.
            var enabled = await swap.EnableAsync().WaitAsync(Deadline);
            Assert.Equal(SwapState.Pending, enabled.Status.State);
            Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages + enabled.Status.Metrics.SwapPages);
        }

        Assert.Empty(guest.Mismatches());
        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Exit_during_swap_in_waits_for_it_and_swaps_in_the_rest()
    {
        using var guest = new GuestFixture(128, 64);
        guest.Fill(seed: 12);
        var options = Options() with { SwapChunkBytes = (ulong)PageSize.PagesToBytes(ChunkPages) };
        var swap = StartPaused(guest.Memory, options, name: "exit-during-swap-in");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        Watch(swap.Supervisor);

        var exit = swap.ExitAsync();

        // Exit has been taken in (Status is answered after it) but the paused swap-in holds it.
        var waiting = await swap.StatusAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.SwapInInProgress, waiting.State);
        Assert.False(exit.IsCompleted, "Exit replied before the swap-in finished");

        ResumeJobs(swap);
        var reply = await exit.WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Accepted, reply.Outcome);
        Assert.Equal(SwapState.Ready, reply.Status.State);
        Assert.Equal(guest.WrittenPages, reply.Status.StateTransition.Pages);
        await ExpectTerminatedAsync(swap.Supervisor, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public void Statuses_sent_before_Exit_are_answered_before_its_reply_and_none_is_lost()
    {
        const int Statuses = 500;
        using var guest = new GuestFixture(64, 64);
        guest.Fill(seed: 15);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "statuses-then-exit");
        var probe = CreateTestProbe();
        probe.Watch(swap.Supervisor);

        // Statuses are answered by the status worker; Exit stops the supervisor, and with it the
        // worker: what the worker still holds must go out first, in order.
        for (var i = 0; i < Statuses; i++)
        {
            probe.Send(swap.Supervisor, SwapCommand.Status.Instance);
        }

        probe.Send(swap.Supervisor, SwapCommand.Exit.Instance);

        for (var i = 0; i < Statuses; i++)
        {
            Assert.Equal(SwapState.Ready, probe.ExpectMsg<SwapStatus>(Deadline).State);
        }

        Assert.Equal(CommandOutcome.Accepted, probe.ExpectMsg<CommandReply>(Deadline).Outcome);
        probe.ExpectTerminated(swap.Supervisor, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Every_Exit_sent_during_swap_in_is_answered_once_it_is_done()
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 14);
        var swap = StartPaused(guest.Memory, Options(), name: "two-exits-during-swap-in");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        Watch(swap.Supervisor);
        var first = CreateTestProbe();
        var second = CreateTestProbe();

        // Two hosts (or a host and its shutdown) ask to exit while the held swap-in runs.
        first.Send(swap.Supervisor, SwapCommand.Exit.Instance);
        second.Send(swap.Supervisor, SwapCommand.Exit.Instance);
        Assert.Equal(SwapState.SwapInInProgress, (await swap.StatusAsync().WaitAsync(Deadline)).State);
        ResumeJobs(swap);

        foreach (var asker in new[] { first, second })
        {
            var reply = asker.ExpectMsg<CommandReply>(Deadline);
            Assert.Equal(CommandOutcome.Accepted, reply.Outcome);
            Assert.Equal(SwapState.Ready, reply.Status.State);
        }

        await ExpectTerminatedAsync(swap.Supervisor, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Replies_to_one_asker_come_in_the_order_it_asked()
    {
        using var guest = new GuestFixture(64, 64);
        guest.Fill(seed: 17);
        var swap = StartPaused(guest.Memory, Options(), name: "reply-order");
        await swap.EnableAsync().WaitAsync(Deadline);
        var probe = CreateTestProbe();

        // Statuses count resident pages on a worker; commands in between must not overtake them.
        for (var i = 0; i < 20; i++)
        {
            probe.Send(swap.Supervisor, SwapCommand.Status.Instance);
            probe.Send(swap.Supervisor, SwapCommand.Trim.Instance);
        }

        probe.Send(swap.Supervisor, SwapCommand.Status.Instance);
        Assert.Equal(SwapState.Pending, probe.ExpectMsg<SwapStatus>(Deadline).State);
        Assert.Equal(CommandOutcome.Accepted, probe.ExpectMsg<CommandReply>(Deadline).Outcome);
        for (var i = 1; i < 20; i++)
        {
            Assert.Equal(SwapState.TrimInProgress, probe.ExpectMsg<SwapStatus>(Deadline).State);
            Assert.Equal(CommandOutcome.Ignored, probe.ExpectMsg<CommandReply>(Deadline).Outcome);
        }

        var last = probe.ExpectMsg<SwapStatus>(Deadline);
        Assert.Equal(SwapState.TrimInProgress, last.State);
        Assert.Equal(guest.WrittenPages, last.Metrics.StagingPages);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Page_workers_run_at_the_configured_nice_value()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 23);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { PageWorkerNice = 17 }, name: "nice-workers");

        // Enable runs the move to staging on the pool, and every status on the status worker.
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.StatusAsync();

        var niced = VmmSwap.Testing.ThreadStat.NiceOfAll().Count(n => n == 17);
        Assert.True(niced >= 1, "no thread runs at nice 17 after the page workers worked");
        await DisableAsync(swap);
        Assert.Empty(guest.Mismatches());
    }

    private static async Task DisableAsync(SwapController swap)
    {
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
    }

    private static ulong[] Checksums(GuestFixture guest)
    {
        var sums = new ulong[guest.Memory.PageCount];
        if (!VmmSwap.Testing.Blocking.RunOnThread(
            () =>
            {
                for (long p = 0; p < sums.Length; p++)
                {
                    sums[p] = guest.Memory.PageChecksum(guest.Memory.PageAddress(p));
                }
            },
            Deadline))
        {
            throw new TimeoutException($"checksumming the guest took over {Deadline.TotalSeconds} s: a fault was lost");
        }

        return sums;
    }
}
