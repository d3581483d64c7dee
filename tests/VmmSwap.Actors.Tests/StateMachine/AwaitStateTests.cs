using VmmSwap.Actors.Hosting;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// <see cref="AwaitState"/> / <see cref="SwapController.WaitForStateAsync"/>: answered by the
/// supervisor on the transition, with no polling. The failure case is covered by the state x
/// command matrix (a swap-out that fails answers a wait for Active with Failed).
/// </summary>
public sealed class AwaitStateTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task Awaiting_the_current_state_is_answered_at_once()
    {
        using var guest = new GuestFixture(16, 8);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "await-now");

        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        Assert.Equal(SwapState.Ready, ready.State);
        await swap.ExitAsync();
    }

    [Fact]
    public async Task Awaiting_a_later_state_is_answered_on_the_transition_with_its_metrics()
    {
        using var guest = new GuestFixture(32, 16);
        guest.Fill(seed: 7);
        var swap = StartPaused(guest.Memory, Options(), name: "await-later");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);

        var active = swap.WaitForStateAsync(SwapState.Active, Deadline);
        var probe = CreateTestProbe();
        probe.Send(swap.Supervisor, SwapCommand.Status.Instance);
        Assert.Equal(SwapState.SwapOutInProgress, probe.ExpectMsg<SwapStatus>(Deadline).State);
        Assert.False(active.IsCompleted, "AwaitState(Active) was answered while the swap-out was paused");

        ResumeJobs(swap);
        var reached = await active;

        Assert.Equal(SwapState.Active, reached.State);
        Assert.Equal(guest.WrittenPages, reached.Metrics.SwapPages);
        Assert.Equal(guest.WrittenPages, reached.StateTransition.Pages);
        await swap.DisableAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        Assert.Equal(SwapState.Ready, (await swap.WaitForStateAsync(SwapState.Ready, Deadline)).State);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_wait_still_open_when_the_supervisor_stops_fails_with_the_reason()
    {
        using var guest = new GuestFixture(16, 8);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "await-stop");

        var active = swap.WaitForStateAsync(SwapState.Active, Deadline);
        await swap.ExitAsync().WaitAsync(Deadline);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => active);
        Assert.Contains("stopped before reaching Active", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wait_that_times_out_names_the_state_it_is_in()
    {
        using var guest = new GuestFixture(16, 8);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "await-timeout");

        var error = await Assert.ThrowsAsync<TimeoutException>(() => swap.WaitForStateAsync(SwapState.Active, TimeSpan.FromMilliseconds(200)));

        Assert.Contains("did not reach Active", error.Message, StringComparison.Ordinal);
        Assert.Contains("it is Ready", error.Message, StringComparison.Ordinal);
        await swap.ExitAsync();
    }
}
