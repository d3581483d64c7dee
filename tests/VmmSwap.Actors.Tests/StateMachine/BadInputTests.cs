using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Uffd;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// Bad input is refused with a clear cause and changes nothing (docs/RELIABILITY.md): commands in the
/// wrong state, a second Enable, a fork while enabled, a swap directory gone after start, invalid options.
/// </summary>
public sealed class BadInputTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task A_second_enable_while_enabling_is_refused_with_a_cause()
    {
        // 64 MiB of written pages: the first Enable is still moving them when the second arrives.
        using var guest = new GuestFixture(PageSize.BytesToPages(64UL * 1024 * 1024));
        guest.Fill(seed: 20);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "double-enable");
        var probe = CreateTestProbe();

        probe.Send(swap.Supervisor, SwapCommand.Enable.Instance);
        probe.Send(swap.Supervisor, SwapCommand.Enable.Instance);
        var first = await probe.ExpectMsgAsync<CommandReply>(Deadline);
        var second = await probe.ExpectMsgAsync<CommandReply>(Deadline);

        var replies = new[] { first, second };
        Assert.All(replies, r => Assert.Equal("Enable", r.Command));
        var refused = replies.Where(r => r.Outcome == CommandOutcome.Failed).ToList();
        var accepted = replies.Where(r => r.Outcome == CommandOutcome.Accepted).ToList();
        if (refused.Count == 1)
        {
            // The refusal is sent while staging runs, so it arrives before the first Enable's reply.
            Assert.Same(first, refused[0]);
            Assert.Contains("already in progress", refused[0].Reason, StringComparison.Ordinal);
            Assert.Single(accepted);
            Assert.Equal(guest.WrittenPages, accepted[0].Status.StateTransition.Pages);
        }
        else
        {
            // The race was lost (the first Enable finished before the second arrived): both succeed.
            Assert.Equal(2, accepted.Count);
        }

        Assert.Equal(SwapState.Pending, accepted[^1].Status.State);
        var status = await swap.StatusAsync();
        Assert.Equal(SwapState.Pending, status.State);
        Assert.Equal(guest.WrittenPages, status.Metrics.StagingPages);

        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_second_userfaultfd_of_this_process_while_enabled_is_refused_with_the_cause_and_changes_nothing()
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 21);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "fork-enabled");
        await swap.EnableAsync().WaitAsync(Deadline);

        // The guest is registered with the runtime's own userfaultfd already: EBUSY.
        using var child = Userfaultfd.Create();
        var error = await Assert.ThrowsAsync<SwapCommandException>(() => swap.ProcessForkedAsync(child).WaitAsync(Deadline));

        Assert.Contains("ProcessForked", error.Message, StringComparison.Ordinal);
        Assert.Contains("EBUSY", error.Message, StringComparison.Ordinal);
        Assert.Equal(CommandOutcome.Failed, error.Reply.Outcome);
        Assert.Equal(SwapState.Pending, error.Reply.Status.State);
        Assert.True(child.Fd.IsClosed, "a refused userfaultfd is closed by the runtime");

        var status = await swap.StatusAsync();
        Assert.Equal(SwapState.Pending, status.State);
        Assert.Equal(guest.WrittenPages, status.Metrics.StagingPages);
        Assert.Empty(guest.Mismatches());
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Theory]
    [InlineData("Trim")]
    [InlineData("SwapOut")]
    [InlineData("Disable")]
    public async Task A_command_in_ready_is_ignored_with_a_reason_and_the_state_unchanged(string command)
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 22);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: $"ignored-{command.ToLowerInvariant()}");

        var reply = await Send(swap, command).WaitAsync(Deadline);

        Assert.Equal(CommandOutcome.Ignored, reply.Outcome);
        Assert.Equal(command, reply.Command);
        Assert.Equal($"{command} is not valid in state Ready", reply.Reason);
        Assert.Equal(SwapState.Ready, reply.Status.State);
        Assert.Equal(SwapState.Ready, (await swap.StatusAsync()).State);
        Assert.Empty(guest.Mismatches());

        // The runtime still works afterwards.
        Assert.Equal(CommandOutcome.Accepted, (await swap.EnableAsync().WaitAsync(Deadline)).Outcome);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Trim_and_swap_out_are_ignored_while_active_and_while_a_job_runs()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 23);
        var swap = StartPaused(guest.Memory, Options(), name: "ignored-enabled");
        await swap.EnableAsync().WaitAsync(Deadline);

        await swap.TrimAsync().WaitAsync(Deadline);
        foreach (var command in new[] { "Trim", "SwapOut" })
        {
            var reply = await Send(swap, command).WaitAsync(Deadline);
            Assert.Equal(CommandOutcome.Ignored, reply.Outcome);
            Assert.Equal($"{command} is not valid in state TrimInProgress", reply.Reason);
            Assert.Equal(SwapState.TrimInProgress, reply.Status.State);
        }

        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);

        foreach (var command in new[] { "Trim", "SwapOut" })
        {
            var reply = await Send(swap, command).WaitAsync(Deadline);
            Assert.Equal(CommandOutcome.Ignored, reply.Outcome);
            Assert.Equal($"{command} is not valid in state Active", reply.Reason);
            Assert.Equal(active.Metrics, reply.Status.Metrics);
        }

        Assert.Equal(SwapState.Active, (await swap.StatusAsync()).State);
        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Enable_after_the_swap_directory_went_away_fails_naming_it_and_stays_ready()
    {
        // The directory passes the check at start; removing it afterwards leaves Enable to meet the failure.
        var directory = Directory.CreateTempSubdirectory("vmm-swap-removed-").FullName;
        using var guest = new GuestFixture(40, 24);
        guest.Fill(seed: 24);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = directory }, name: "removed-swap-dir");
        Directory.Delete(directory);

        var error = await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));

        Assert.Contains(directory, error.Message, StringComparison.Ordinal);
        Assert.Contains("ENOENT", error.Message, StringComparison.Ordinal);
        Assert.Equal(CommandOutcome.Failed, error.Reply.Outcome);
        Assert.Equal("Enable", error.Reply.Command);
        Assert.Equal(SwapState.Ready, error.Reply.Status.State);
        var status = await swap.StatusAsync();
        Assert.Equal(SwapState.Ready, status.State);
        Assert.Equal(SwapMetrics.Empty, status.Metrics);

        // Nothing was registered: the guest reads and writes its memory as before.
        Assert.Empty(guest.Mismatches());
        var content = new byte[PageSize.Bytes];
        new Random(25).NextBytes(content);
        guest.WritePage(3, content);
        Assert.Empty(guest.Mismatches());

        // A retry fails the same way, it does not find half-built state.
        var again = await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));
        Assert.Contains(directory, again.Message, StringComparison.Ordinal);
        Assert.Equal(SwapState.Ready, (await swap.StatusAsync()).State);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4097UL)]
    [InlineData(6144UL)]
    public void A_swap_chunk_that_is_not_a_page_multiple_is_refused_naming_the_option(ulong bytes)
    {
        var options = new VmmSwapOptions { SwapChunkBytes = bytes };

        var error = Assert.Throws<ArgumentException>(options.Validated);

        Assert.Contains("swap-chunk-size", error.Message, StringComparison.Ordinal);
        Assert.Contains(bytes.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void Trim_chunk_pages_that_are_not_positive_are_refused_naming_the_option(long pages)
    {
        var error = Assert.Throws<ArgumentException>(new VmmSwapOptions { TrimChunkPages = pages }.Validated);

        Assert.Contains("trim-chunk-pages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_page_worker_count_is_refused_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(new VmmSwapOptions { PageWorkerCount = -1 }.Validated);

        Assert.Contains("page-workers", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_options_are_refused_before_a_supervisor_starts()
    {
        using var guest = new GuestFixture(16);

        var chunk = Assert.Throws<ArgumentException>(() => SwapController.Start(Sys, guest.Memory, new VmmSwapOptions { SwapChunkBytes = 100 }, name: "bad-chunk"));
        var trim = Assert.Throws<ArgumentException>(() => SwapController.Start(Sys, guest.Memory, new VmmSwapOptions { TrimChunkPages = 0 }, name: "bad-trim"));

        Assert.Contains("swap-chunk-size", chunk.Message, StringComparison.Ordinal);
        Assert.Contains("trim-chunk-pages", trim.Message, StringComparison.Ordinal);

        // The names are free: nothing was started under them.
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "bad-chunk");
        Assert.NotNull(swap.Supervisor);
    }

    [Theory]
    [InlineData("vmm-swap.swap-chunk-size = 1000", "swap-chunk-size")]
    [InlineData("vmm-swap.trim-chunk-pages = 0", "trim-chunk-pages")]
    [InlineData("vmm-swap.swap-in-step-size = 0", "swap-in-step-size")]
    [InlineData("vmm-swap.page-worker-nice = 20", "page-worker-nice")]
    [InlineData("vmm-swap.page-worker-nice = -1", "page-worker-nice")]
    [InlineData("vmm-swap.swap-in-step-size = 4100", "swap-in-step-size")]
    public void Invalid_hocon_options_are_refused_naming_the_key(string hocon, string key)
    {
        var error = Assert.Throws<ArgumentException>(() => VmmSwapOptions.FromConfig(ConfigurationFactory.ParseString(hocon)));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    private static Task<CommandReply> Send(SwapController swap, string command) => command switch
    {
        "Trim" => swap.TrimAsync(),
        "SwapOut" => swap.SwapOutAsync(),
        "Disable" => swap.DisableAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "not a command this test sends"),
    };
}
