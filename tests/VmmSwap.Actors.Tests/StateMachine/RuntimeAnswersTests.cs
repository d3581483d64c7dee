using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>What the runtime says about itself is true when said: Status during Enable, commands after Exit.</summary>
public sealed class RuntimeAnswersTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task Status_asked_while_enable_moves_pages_never_reports_a_state_the_runtime_is_not_in_yet()
    {
        // 128 MiB: the move to staging takes long enough for status asks to land in the middle of it.
        using var guest = new GuestFixture(32768);
        guest.Fill(seed: 91, stride: 1);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "status-during-enable");

        var enable = swap.EnableAsync();
        var statuses = Enumerable.Range(0, 200).Select(_ => swap.StatusAsync()).ToList();
        await enable.WaitAsync(Deadline);
        var answered = await Task.WhenAll(statuses).WaitAsync(Deadline);

        // Pending means every page is out of the guest: a host may resume its guest on it.
        foreach (var status in answered)
        {
            Assert.True(status.State != SwapState.Pending || status.Metrics.ResidentPages == 0, $"Pending with {status.Metrics.ResidentPages} pages still resident");
        }

        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_command_after_exit_fails_at_once_saying_the_runtime_has_stopped()
    {
        using var guest = new GuestFixture(16);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "after-exit");
        await swap.ExitAsync().WaitAsync(Deadline);

        // Bounded well below the controller's own 5-minute Ask timeout, which it used to wait out.
        var status = await Assert.ThrowsAsync<SwapRuntimeStoppedException>(() => swap.StatusAsync().WaitAsync(Deadline));
        var enable = await Assert.ThrowsAsync<SwapRuntimeStoppedException>(() => swap.EnableAsync().WaitAsync(Deadline));

        Assert.Contains("stopped", status.Message, StringComparison.Ordinal);
        Assert.Equal("Enable", enable.Command);
    }
}
