using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

/// <summary>
/// Device processes attached with <see cref="SwapCommand.AttachProcess"/>: real python3 children
/// that map the guest memfds wherever their kernel puts them (not at the host's addresses), each
/// with its own userfaultfd, served through its own layout.
/// </summary>
public sealed class DeviceProcessTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task Two_processes_with_their_own_layouts_read_every_page_while_pending_active_and_swapping_in()
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 81);
        // Jobs wait at their start until released: the swap-in is held while both processes fault.
        var swap = StartPaused(guest.Memory, Options(), name: "devices-two");
        using var a = Elsewhere(guest);
        using var b = Elsewhere(guest);
        Assert.NotEqual(guest.Memory.Regions[0].HostAddress, a.MappedAt[0]);
        Assert.NotEqual(a.MappedAt[0], b.MappedAt[0]);

        // Attached while disabled: checked, and registered by the Enable.
        Assert.Equal(CommandOutcome.Accepted, (await swap.AttachProcessAsync(a.Uffd, a.Pid, a.MappedAt, freeze: false).WaitAsync(Deadline)).Outcome);
        Assert.Equal(CommandOutcome.Accepted, (await swap.AttachProcessAsync(b.Uffd, b.Pid, b.MappedAt, freeze: false).WaitAsync(Deadline)).Outcome);
        await swap.EnableAsync().WaitAsync(Deadline);

        var pages = guest.Memory.PageCount;
        ForeignUserfaultfd Of(long p) => p % 2 == 0 ? a : b;
        for (long p = 0; p < pages / 3; p++)
        {
            Assert.Equal(guest.ExpectedHash(p), Of(p).ReadPage(At(guest, Of(p), p)));
        }

        await swap.SwapOutAsync().WaitAsync(Deadline);
        ResumeJobs(swap);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        for (long p = pages / 3; p < 2 * pages / 3; p++)
        {
            Assert.Equal(guest.ExpectedHash(p), Of(p).ReadPage(At(guest, Of(p), p)));
        }

        // A write from one process is what the other and the host read.
        a.WritePage(At(guest, a, pages - 1), 0x6B);
        guest.Expected[pages - 1] = Enumerable.Repeat((byte)0x6B, PageSize.Bytes).ToArray();
        Assert.Equal(guest.ExpectedHash(pages - 1), b.ReadPage(At(guest, b, pages - 1)));

        // The rest through both while the swap-in is under way (held before its first chunk).
        await swap.DisableAsync().WaitAsync(Deadline);
        for (var p = 2 * pages / 3; p < pages; p++)
        {
            Assert.Equal(guest.ExpectedHash(p), a.ReadPage(At(guest, a, p)));
            Assert.Equal(guest.ExpectedHash(p), b.ReadPage(At(guest, b, p)));
        }

        Assert.Equal(SwapState.SwapInInProgress, (await swap.StatusAsync().WaitAsync(Deadline)).State);
        ResumeJobs(swap);

        Assert.Null((await swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(guest.Mismatches());
        for (long p = 0; p < pages; p++)
        {
            Assert.Equal(guest.ExpectedHash(p), b.ReadPage(At(guest, b, p)));
        }
    }

    [Fact]
    public async Task A_process_attached_while_enabled_is_registered_at_once_and_detached_on_request()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 82);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "devices-enabled");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        using var child = Elsewhere(guest);

        var attached = await swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: false).WaitAsync(Deadline);
        Assert.Equal(SwapState.Active, attached.Status.State);
        for (long p = 0; p < guest.Memory.PageCount; p++)
        {
            Assert.Equal(guest.ExpectedHash(p), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(p)));
        }

        var again = await Assert.ThrowsAsync<SwapCommandException>(() => swap.AttachProcessAsync(Userfaultfd.Create(), child.Pid, child.MappedAt, freeze: false).WaitAsync(Deadline));
        Assert.Contains($"pid {child.Pid} is already attached", again.Message, StringComparison.Ordinal);

        Assert.Equal(CommandOutcome.Accepted, (await swap.DetachProcessAsync(child.Pid).WaitAsync(Deadline)).Outcome);
        var gone = await Assert.ThrowsAsync<SwapCommandException>(() => swap.DetachProcessAsync(child.Pid).WaitAsync(Deadline));
        Assert.Contains("is not attached", gone.Message, StringComparison.Ordinal);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_process_killed_mid_way_is_detached_when_it_exits_and_the_runtime_goes_on()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 83);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "devices-killed");
        using var child = Elsewhere(guest);
        await swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: true).WaitAsync(Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.ExpectedHash(3), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(3)));

        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Info));
        child.KillOwner();

        // Its pidfd says it exited: it is detached, and a detach by request finds nothing.
        await logs.FishForMessageAsync(m => m is Info i && $"{i.Message}".Contains($"device process {child.Pid} has exited", StringComparison.Ordinal), Deadline);
        var gone = await Assert.ThrowsAsync<SwapCommandException>(() => swap.DetachProcessAsync(child.Pid).WaitAsync(Deadline));
        Assert.Contains("is not attached", gone.Message, StringComparison.Ordinal);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_process_attached_with_freeze_runs_again_after_enable_and_after_a_failed_enable()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 84);
        var dir = Directory.CreateTempSubdirectory("vmmswap-freeze-").FullName;
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = dir }, name: "devices-freeze");
        using var child = Elsewhere(guest);
        await swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: true).WaitAsync(Deadline);

        await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(ProcessRunState.Running, ProcessStates.Of(child.Pid));
        Assert.Equal(guest.ExpectedHash(1), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(1)));
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        // The swap file cannot be created: Enable fails after the freeze, and the child is resumed.
        Directory.Delete(dir);
        await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));
        Assert.Equal(ProcessRunState.Running, ProcessStates.Of(child.Pid));
        Assert.Equal(guest.ExpectedHash(2), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(2)));
    }

    [Fact]
    public async Task A_process_attached_with_freeze_is_stopped_in_every_thread_when_the_move_begins()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 85);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "devices-frozen-at-move");
        using var frozen = Elsewhere(guest);
        using var free = Elsewhere(guest);
        await swap.AttachProcessAsync(frozen.Uffd, frozen.Pid, frozen.MappedAt, freeze: true).WaitAsync(Deadline);
        await swap.AttachProcessAsync(free.Uffd, free.Pid, free.MappedAt, freeze: false).WaitAsync(Deadline);

        // The supervisor logs the move's start right before it hands the move to the page handler;
        // this subscriber looks at both processes on that very thread, at that very moment.
        var seen = new AtMoveStart(frozen.Pid, free.Pid);
        Sys.EventStream.Subscribe(seen, typeof(Info));
        await swap.EnableAsync().WaitAsync(Deadline);
        Sys.EventStream.Unsubscribe(seen);

        Assert.Equal((ProcessRunState.Stopped, ProcessRunState.Running), seen.States);
        Assert.Equal(ProcessRunState.Running, ProcessStates.Of(frozen.Pid));
        Assert.Equal(guest.ExpectedHash(6), frozen.ReadPage(frozen.MappedAt[0] + (nint)PageSize.PagesToBytes(6)));
    }

    [Fact]
    public async Task A_wrong_layout_a_gone_pid_and_a_descriptor_that_is_no_userfaultfd_are_refused_and_closed()
    {
        using var guest = new GuestFixture(16, 16);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "devices-refused");
        using var child = Elsewhere(guest);

        var one = Userfaultfd.Create();
        var count = await Assert.ThrowsAsync<SwapCommandException>(() => swap.AttachProcessAsync(one, child.Pid, [child.MappedAt[0]], freeze: false).WaitAsync(Deadline));
        Assert.Contains("2 regions but 1 addresses", count.Message, StringComparison.Ordinal);
        Assert.True(one.Fd.IsClosed);

        var two = Userfaultfd.Create();
        var pid = await Assert.ThrowsAsync<SwapCommandException>(() => swap.AttachProcessAsync(two, int.MaxValue, child.MappedAt, freeze: false).WaitAsync(Deadline));
        Assert.Contains("ESRCH", pid.Message, StringComparison.Ordinal);

        var notUffd = Userfaultfd.Adopt(Native.Memory.MemFd.Create("not-a-uffd", 4096));
        var kind = await Assert.ThrowsAsync<SwapCommandException>(() => swap.AttachProcessAsync(notUffd, child.Pid, child.MappedAt, freeze: false).WaitAsync(Deadline));
        Assert.Contains("not a userfaultfd", kind.Message, StringComparison.Ordinal);

        // The runtime goes on, and the child can still be attached properly.
        await swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: false).WaitAsync(Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
    }

    private static ForeignUserfaultfd Elsewhere(GuestFixture guest) =>
        ForeignUserfaultfd.Create(guest.Memory.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, (nint)0, r.Size)));

    // Where guest page page is in child's address space: its regions are at their own bases.
    private static nint At(GuestFixture guest, ForeignUserfaultfd child, long page)
    {
        var host = (ulong)guest.Memory.PageAddress(page);
        var regions = guest.Memory.Regions;
        for (var i = 0; i < regions.Count; i++)
        {
            if (host >= (ulong)regions[i].HostAddress && host < regions[i].EndAddress)
            {
                return child.MappedAt[i] + (nint)(host - (ulong)regions[i].HostAddress);
            }
        }

        throw new ArgumentOutOfRangeException(nameof(page));
    }


    // Called synchronously by the EventStream, on the thread that logs.
    private sealed class AtMoveStart(int frozen, int free) : Akka.Actor.MinimalActorRef
    {
        public (ProcessRunState Frozen, ProcessRunState Free)? States { get; private set; }

        public override Akka.Actor.ActorPath Path { get; } = new Akka.Actor.RootActorPath(new Akka.Actor.Address("akka", "at-move-start")) / "probe";

        public override Akka.Actor.IActorRefProvider Provider => throw new NotSupportedException();

        protected override void TellInternal(object message, Akka.Actor.IActorRef sender)
        {
            if (message is Info info && $"{info.Message}".Contains("moving guest memory to staging", StringComparison.Ordinal))
            {
                States = (ProcessStates.Of(frozen), ProcessStates.Of(free));
            }
        }
    }
}
