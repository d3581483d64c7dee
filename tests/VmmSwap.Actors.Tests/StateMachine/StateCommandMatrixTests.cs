using System.ComponentModel;
using System.Diagnostics;
using Akka.TestKit;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Native.Uffd;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// Every command in every vmm-swap state, on a real userfaultfd, memfd guest and swap file: the
/// reply, the state afterwards, the metrics, and the guest's data intact at the end. Jobs start
/// paused, so each *InProgress state holds until the test calls <see cref="SwapTestKit.ResumeJobs"/>. The
/// expected behaviour follows crosvm's <c>monitor_process</c> (disabled) and <c>handle_vmm_swap</c>
/// (enabled) loops. One class past the usual length: the matrix, the way each state is reached and
/// each command checked read as one table.
/// </summary>
public sealed class StateCommandMatrixTests(ITestOutputHelper output) : SwapTestKit(output)
{
    // GuestFixture(64, 32) filled with stride 1: every page written, every third one with zeros.
    private const long Pages = 96;
    private const long ZeroPagesWritten = 32;

    // A non-zero page the guest touches before a re-Enable, so the move to staging has work to do.
    private const long TouchedPage = 1;

    // The Failed state's swap directory: far smaller than the 64 non-zero pages (256 KiB) swapped out.
    private const string TinySwapSize = "64k";

    private static readonly TimeSpan NoReplyWindow = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan GuestAccessDeadline = TimeSpan.FromSeconds(15);
    private static readonly SwapMetrics AllStaged = new(0, 0, 0, 0, 0, Pages, 0);
    private static readonly SwapMetrics AllSwapped = new(0, 0, 0, 0, 0, 0, Pages);

    private string? _mountPoint;

    /// <summary>Every (state, command) pair.</summary>
    public static TheoryData<SwapState, string> Matrix
    {
        get
        {
            var data = new TheoryData<SwapState, string>();
            foreach (var state in Enum.GetValues<SwapState>())
            {
                foreach (var command in new[] { nameof(SwapCommand.Enable), nameof(SwapCommand.Trim), nameof(SwapCommand.SwapOut), nameof(SwapCommand.Disable), nameof(SwapCommand.Status), nameof(SwapCommand.ProcessForked), nameof(SwapCommand.Exit) })
                {
                    data.Add(state, command);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Command_in_state_replies_moves_to_the_right_state_and_keeps_the_guest_intact(SwapState state, string command)
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 4242);
        Assert.Equal(Pages, guest.WrittenPages);
        var options = Options() with
        {
            SwapDirectory = state == SwapState.Failed ? await MountTinySwapDirectoryAsync() : null,
        };
        var swap = StartPaused(guest.Memory, options, name: $"matrix-{Guid.NewGuid():N}");
        var probe = CreateTestProbe();
        probe.Watch(swap.Supervisor);
        var rig = new Rig(state, guest, swap, probe);

        var before = await ReachAsync(rig);

        switch (command)
        {
            case nameof(SwapCommand.Enable):
                await EnableAsync(rig);
                break;
            case nameof(SwapCommand.Trim):
                await TrimAsync(rig, before);
                break;
            case nameof(SwapCommand.SwapOut):
                await SwapOutAsync(rig, before);
                break;
            case nameof(SwapCommand.Disable):
                await DisableAsync(rig, before);
                break;
            case nameof(SwapCommand.Status):
                await StatusAsync(rig, before);
                break;
            case nameof(SwapCommand.ProcessForked):
                await ProcessForkedAsync(rig, before);
                break;
            case nameof(SwapCommand.Exit):
                // The supervisor is gone: Exit itself must have swapped everything in.
                await ExitAsync(rig);
                return;
            default:
                Assert.Fail($"unknown command {command}");
                break;
        }

        await DisableAndCheckIntactAsync(rig);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        try
        {
            // Shuts the actor system down first, which closes the swap file on the mount.
            base.Dispose(disposing);
        }
        finally
        {
            if (_mountPoint is { } dir)
            {
                _mountPoint = null;
                if (Run("umount", dir).Code != 0)
                {
                    Run("umount", "-l", dir);
                }

                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    // Still busy: a lazy unmount finishes later; the empty directory is harmless.
                }
            }
        }
    }

    // Drives a fresh supervisor (Ready) to rig.State and returns the status there.
    private static async Task<SwapStatus> ReachAsync(Rig rig)
    {
        var target = rig.State;
        if (target == SwapState.Ready)
        {
            var ready = await rig.Swap.WaitForStateAsync(SwapState.Ready, Deadline);
            Assert.Equal(SwapMetrics.Empty, ready.Metrics);
            Assert.Equal(StateTransition.Empty, ready.StateTransition);
            Assert.Null(ready.Error);
            return ready;
        }

        var enabled = await rig.CommandAsync(SwapCommand.Enable.Instance);
        AssertReply(enabled, nameof(SwapCommand.Enable), CommandOutcome.Accepted, SwapState.Pending);
        Assert.Equal(AllStaged, enabled.Status.Metrics);
        Assert.Equal(Pages, enabled.Status.StateTransition.Pages);

        switch (target)
        {
            case SwapState.TrimInProgress:
                AssertReply(await rig.CommandAsync(SwapCommand.Trim.Instance), nameof(SwapCommand.Trim), CommandOutcome.Accepted, SwapState.TrimInProgress);
                break;
            case SwapState.SwapOutInProgress:
                AssertReply(await rig.CommandAsync(SwapCommand.SwapOut.Instance), nameof(SwapCommand.SwapOut), CommandOutcome.Accepted, SwapState.SwapOutInProgress);
                break;
            case SwapState.SwapInInProgress:
                AssertReply(await rig.CommandAsync(SwapCommand.Disable.Instance), nameof(SwapCommand.Disable), CommandOutcome.Accepted, SwapState.SwapInInProgress);
                break;
            case SwapState.Active:
            case SwapState.Failed:
                AssertReply(await rig.CommandAsync(SwapCommand.SwapOut.Instance), nameof(SwapCommand.SwapOut), CommandOutcome.Accepted, SwapState.SwapOutInProgress);

                // Asked while the job is paused: answered on the transition, with the failure if it fails.
                var awaitingActive = rig.Swap.WaitForStateAsync(SwapState.Active, Deadline);
                Assert.False(awaitingActive.IsCompleted, "AwaitState(Active) was answered while the swap-out had not started");
                rig.Resume();
                var outcome = await SettleAsync(rig.Swap, SwapState.SwapOutInProgress);
                Assert.True(outcome.State == target, $"swap-out was meant to end in {target} but ended in {outcome.State}{(outcome.Error is null ? string.Empty : $" ({outcome.Error})")}");
                Assert.Equal(target, (await awaitingActive).State);
                break;
        }

        var reached = await rig.Swap.WaitForStateAsync(target, Deadline);
        Assert.Equal(target == SwapState.Active ? AllSwapped : AllStaged, reached.Metrics);
        if (target == SwapState.Failed)
        {
            // The write to the full tmpfs failed; every page is still in staging.
            Assert.NotNull(reached.Error);
            Assert.Contains(nameof(SwapCommand.SwapOut), reached.Error, StringComparison.Ordinal);
            Assert.Contains("ENOSPC", reached.Error, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(reached.Error);
        }

        if (target == SwapState.Active)
        {
            Assert.Equal(Pages, reached.StateTransition.Pages);
        }

        return reached;
    }

    // Enable is valid everywhere: it (aborts any job and) moves resident pages to staging: Pending.
    private static async Task EnableAsync(Rig rig)
    {
        var moved = Pages;
        var expected = AllStaged;
        if (rig.State != SwapState.Ready)
        {
            // The guest touches a page first: re-enabling must move it back to staging.
            Assert.Equal(rig.Guest.Expected[TouchedPage], rig.Guest.ReadPage(TouchedPage));
            var touched = await rig.Swap.StatusAsync();
            Assert.Equal(1, touched.Metrics.ResidentPages);
            moved = 1;
            expected = rig.State == SwapState.Active ? new SwapMetrics(0, 0, 0, 0, 0, 1, Pages - 1) : AllStaged;
        }

        var reply = await rig.CommandAsync(SwapCommand.Enable.Instance);
        AssertReply(reply, nameof(SwapCommand.Enable), CommandOutcome.Accepted, SwapState.Pending);
        Assert.Null(reply.Status.Error);
        Assert.Equal(expected, reply.Status.Metrics);
        Assert.Equal(moved, reply.Status.StateTransition.Pages);

        var after = await rig.Swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.Equal(expected, after.Metrics);
        Assert.Null(after.Error);
    }

    // Trim is valid only in Pending: zero pages leave staging.
    private static async Task TrimAsync(Rig rig, SwapStatus before)
    {
        if (rig.State != SwapState.Pending)
        {
            await AssertIgnoredAsync(rig, SwapCommand.Trim.Instance, before);
            return;
        }

        var reply = await rig.CommandAsync(SwapCommand.Trim.Instance);
        AssertReply(reply, nameof(SwapCommand.Trim), CommandOutcome.Accepted, SwapState.TrimInProgress);
        Assert.Equal(AllStaged, reply.Status.Metrics);
        Assert.Equal(AllStaged, (await rig.Swap.WaitForStateAsync(SwapState.TrimInProgress, Deadline)).Metrics);

        rig.Resume();
        var trimmed = await SettleAsync(rig.Swap, SwapState.TrimInProgress);
        Assert.Equal(SwapState.Pending, trimmed.State);
        Assert.Null(trimmed.Error);
        Assert.Equal(new SwapMetrics(0, 0, 0, 0, 0, Pages - ZeroPagesWritten, 0), trimmed.Metrics);
        Assert.Equal(ZeroPagesWritten, trimmed.StateTransition.Pages);
    }

    // SwapOut is valid only in Pending: staging goes to the swap file: Active.
    private static async Task SwapOutAsync(Rig rig, SwapStatus before)
    {
        if (rig.State != SwapState.Pending)
        {
            await AssertIgnoredAsync(rig, SwapCommand.SwapOut.Instance, before);
            return;
        }

        var reply = await rig.CommandAsync(SwapCommand.SwapOut.Instance);
        AssertReply(reply, nameof(SwapCommand.SwapOut), CommandOutcome.Accepted, SwapState.SwapOutInProgress);
        Assert.Equal(AllStaged, reply.Status.Metrics);
        Assert.Equal(AllStaged, (await rig.Swap.WaitForStateAsync(SwapState.SwapOutInProgress, Deadline)).Metrics);

        rig.Resume();
        var active = await SettleAsync(rig.Swap, SwapState.SwapOutInProgress);
        Assert.Equal(SwapState.Active, active.State);
        Assert.Null(active.Error);
        Assert.Equal(AllSwapped, active.Metrics);
        Assert.Equal(Pages, active.StateTransition.Pages);
    }

    // Disable: ignored while disabled, "already in progress" during swap-in, else (aborts and) swaps in.
    private static async Task DisableAsync(Rig rig, SwapStatus before)
    {
        if (rig.State == SwapState.Ready)
        {
            await AssertIgnoredAsync(rig, SwapCommand.Disable.Instance, before);
            return;
        }

        var reply = await rig.CommandAsync(SwapCommand.Disable.Instance);
        Assert.Equal(nameof(SwapCommand.Disable), reply.Command);
        Assert.Equal(CommandOutcome.Accepted, reply.Outcome);
        if (rig.State == SwapState.SwapInInProgress)
        {
            Assert.NotNull(reply.Reason);
            Assert.Contains("already in progress", reply.Reason, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(reply.Reason);
        }

        Assert.Equal(SwapState.SwapInInProgress, reply.Status.State);
        Assert.Equal(before.Metrics, reply.Status.Metrics);
        Assert.Equal(before.Metrics, (await rig.Swap.WaitForStateAsync(SwapState.SwapInInProgress, Deadline)).Metrics);

        rig.Resume();
        var ready = await rig.Swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Equal(SwapMetrics.Empty, ready.Metrics);
        Assert.Equal(Pages, ready.StateTransition.Pages);
    }

    // Status is answered in every state with that state's metrics; nothing changes.
    private static async Task StatusAsync(Rig rig, SwapStatus before)
    {
        rig.Probe.Send(rig.Swap.Supervisor, SwapCommand.Status.Instance);
        var status = await rig.Probe.ExpectMsgAsync<SwapStatus>(Deadline);
        Assert.Equal(before, status);
        Assert.Equal(rig.State, status.State);
        Assert.Equal(rig.State switch
        {
            SwapState.Ready => SwapMetrics.Empty,
            SwapState.Active => AllSwapped,
            _ => AllStaged,
        }, status.Metrics);
        Assert.Equal(before, await rig.Swap.WaitForStateAsync(rig.State, Deadline));
    }

    // ProcessForked with a second userfaultfd of this very process: taken while disabled (nothing
    // is registered yet); while enabled its registration fails, as the guest is already registered
    // with the runtime's own, so it is refused, naming the cause, and closed. (A real child's is
    // registered at once: ForkedProcessTests.)
    private static async Task ProcessForkedAsync(Rig rig, SwapStatus before)
    {
        var childUffd = Userfaultfd.Create();
        var reply = await rig.CommandAsync(new SwapCommand.ProcessForked(childUffd));
        Assert.Equal(nameof(SwapCommand.ProcessForked), reply.Command);
        Assert.Equal(rig.State, reply.Status.State);
        Assert.Equal(before.Metrics, reply.Status.Metrics);
        if (rig.State == SwapState.Ready)
        {
            Assert.Equal(CommandOutcome.Accepted, reply.Outcome);
            Assert.Null(reply.Reason);
            Assert.False(childUffd.Fd.IsClosed, "an accepted child userfaultfd belongs to the runtime and stays open");
        }
        else
        {
            Assert.Equal(CommandOutcome.Failed, reply.Outcome);
            Assert.NotNull(reply.Reason);
            Assert.Contains("cannot be registered", reply.Reason, StringComparison.Ordinal);
            Assert.Contains("EBUSY", reply.Reason, StringComparison.Ordinal);
            Assert.True(childUffd.Fd.IsClosed, "a refused child userfaultfd must be closed by the runtime");
        }

        Assert.Equal(before, await rig.Swap.WaitForStateAsync(rig.State, Deadline));
    }

    // Exit: stops at once while disabled; otherwise swaps everything in first and replies when done.
    private static async Task ExitAsync(Rig rig)
    {
        rig.Probe.Send(rig.Swap.Supervisor, SwapCommand.Exit.Instance);
        object? premature = null;
        if (rig.State != SwapState.Ready)
        {
            // Jobs are paused, so swap-in cannot be done yet: Exit must not have replied.
            var (received, envelope) = await rig.Probe.TryReceiveOneAsync(NoReplyWindow);
            premature = received ? envelope.Message : null;
            rig.Resume();
        }

        var reply = await rig.Probe.ExpectMsgAsync<CommandReply>(Deadline);
        AssertReply(reply, nameof(SwapCommand.Exit), CommandOutcome.Accepted, SwapState.Ready);
        Assert.Equal(SwapMetrics.Empty, reply.Status.Metrics);
        await rig.Probe.ExpectTerminatedAsync(rig.Swap.Supervisor, Deadline);

        // Nothing serves faults any more: every page must be back, readable without a fault.
        Assert.Empty(await MismatchesAsync(rig.Guest));
        Assert.True(premature is null, $"Exit in {rig.State} replied before swap-in had finished (jobs still paused): {premature}");
        Assert.Null(reply.Status.Error);
    }

    // The end of every scenario that keeps the supervisor: Disable, let the swap-in run, Ready, data intact.
    private static async Task DisableAndCheckIntactAsync(Rig rig)
    {
        var reply = await rig.CommandAsync(SwapCommand.Disable.Instance);
        Assert.NotEqual(CommandOutcome.Failed, reply.Outcome);
        rig.Resume();
        var ready = await rig.Swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Equal(SwapMetrics.Empty, ready.Metrics);
        Assert.Empty(await MismatchesAsync(rig.Guest));
        Assert.True(ready.Error is null, $"the status in Ready still carries an error: {ready.Error}");
    }

    private static async Task AssertIgnoredAsync(Rig rig, SwapCommand command, SwapStatus before)
    {
        var reply = await rig.CommandAsync(command);
        AssertReply(reply, command.Name, CommandOutcome.Ignored, rig.State);
        Assert.NotNull(reply.Reason);
        Assert.Contains(command.Name, reply.Reason, StringComparison.Ordinal);
        Assert.Contains(rig.State.ToString(), reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, reply.Status);
        Assert.Equal(before, await rig.Swap.WaitForStateAsync(rig.State, Deadline));
    }

    private static void AssertReply(CommandReply reply, string command, CommandOutcome outcome, SwapState state)
    {
        Assert.Equal(command, reply.Command);
        Assert.True(reply.Outcome == outcome, $"{command} was {reply.Outcome} ({reply.Reason}), expected {outcome}");
        if (outcome == CommandOutcome.Accepted)
        {
            Assert.Null(reply.Reason);
        }

        Assert.Equal(state, reply.Status.State);
    }

    // Polls Status until the state is no longer `transient`.
    private static async Task<SwapStatus> SettleAsync(SwapController swap, SwapState transient)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var status = await swap.StatusAsync();
            if (status.State != transient)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < until, $"vmm-swap stayed in {transient} for {Deadline.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    // Reads every page on a guest thread; a fault nobody serves fails the test instead of hanging it.
    private static async Task<List<long>> MismatchesAsync(GuestFixture guest) =>
        await Task.Run(() => guest.Mismatches()).WaitAsync(GuestAccessDeadline);

    private async Task<string> MountTinySwapDirectoryAsync()
    {
        var id = Guid.NewGuid().ToString("N");
        var dir = Path.Combine(Path.GetTempPath(), $"vmmswap-enospc-{id}");
        Directory.CreateDirectory(dir);
        var process = Start("mount", "-t", "tmpfs", "-o", $"size={TinySwapSize}", $"vmmswap-enospc-{id}", dir);
        var code = -1;
        var error = process.Error;
        if (process.Process is { } mount)
        {
            using (mount)
            {
                var stderr = mount.StandardError.ReadToEndAsync();
                var stdout = mount.StandardOutput.ReadToEndAsync();
                await mount.WaitForExitAsync();
                code = mount.ExitCode;
                error = (await stderr + await stdout).Trim();
            }
        }

        if (code != 0)
        {
            Directory.Delete(dir);
            Assert.Fail($"the Failed-state scenarios make swap-out hit ENOSPC on a {TinySwapSize} tmpfs swap directory, but 'mount -t tmpfs -o size={TinySwapSize}' on {dir} failed (exit {code}): {error}; run the tests as root (CAP_SYS_ADMIN) where tmpfs can be mounted");
        }

        _mountPoint = dir;
        return dir;
    }

    private static (int Code, string Output) Run(string file, params string[] arguments)
    {
        var (process, error) = Start(file, arguments);
        if (process is null)
        {
            return (-1, error);
        }

        using (process)
        {
            var output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
    }

    private static (Process? Process, string Error) Start(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            return (Process.Start(info), $"{file} did not start");
        }
        catch (Win32Exception e)
        {
            return (null, $"{file} could not be run: {e.Message}");
        }
    }

    private sealed record Rig(SwapState State, GuestFixture Guest, SwapController Swap, TestProbe Probe)
    {
        internal async Task<CommandReply> CommandAsync(SwapCommand command)
        {
            Probe.Send(Swap.Supervisor, command);
            return await Probe.ExpectMsgAsync<CommandReply>(Deadline);
        }

        internal void Resume() => ResumeJobs(Swap);
    }
}
