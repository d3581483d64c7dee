using System.Diagnostics;
using Akka.Event;
using VmmSwap.Actors.Devices;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

/// <summary>
/// Device processes frozen with the cgroup v2 freezer (<see cref="VmmSwapOptions.FreezeCgroup"/>)
/// instead of SIGSTOP: real python3 children moved into a cgroup made for each test.
/// </summary>
public sealed class CgroupFreezeTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task The_cgroup_is_frozen_when_the_move_begins_and_a_process_outside_it_runs()
    {
        using var cgroup = TestCgroup.Create();
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 91);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { FreezeCgroup = cgroup.Directory }, name: "cgroup-frozen-at-move");
        using var frozen = Elsewhere(guest);
        using var free = Elsewhere(guest);
        cgroup.Add(frozen.Pid);
        await swap.AttachProcessAsync(frozen.Uffd, frozen.Pid, frozen.MappedAt, freeze: true).WaitAsync(Deadline);
        await swap.AttachProcessAsync(free.Uffd, free.Pid, free.MappedAt, freeze: false).WaitAsync(Deadline);

        // The supervisor logs the move's start right before it hands the move to the page handler;
        // this subscriber looks at the cgroup and the free process on that very thread, at that moment.
        var seen = new AtMoveStart(cgroup, free.Pid);
        Sys.EventStream.Subscribe(seen, typeof(Info));
        await swap.EnableAsync().WaitAsync(Deadline);
        Sys.EventStream.Unsubscribe(seen);

        Assert.Equal((true, ProcessRunState.Running), seen.States);
        AssertThawed(cgroup);
        Assert.Equal(guest.ExpectedHash(6), frozen.ReadPage(frozen.MappedAt[0] + (nint)PageSize.PagesToBytes(6)));
    }

    [Fact]
    public async Task The_cgroup_is_thawed_after_enable_and_after_a_failed_enable()
    {
        using var cgroup = TestCgroup.Create();
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 92);
        var dir = Directory.CreateTempSubdirectory("vmmswap-cgroup-freeze-").FullName;
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = dir, FreezeCgroup = cgroup.Directory }, name: "cgroup-thawed");
        using var child = Elsewhere(guest);
        cgroup.Add(child.Pid);
        await swap.AttachProcessAsync(child.Uffd, child.Pid, child.MappedAt, freeze: true).WaitAsync(Deadline);

        await swap.EnableAsync().WaitAsync(Deadline);
        AssertThawed(cgroup);
        Assert.Equal(guest.ExpectedHash(1), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(1)));
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        // The swap file cannot be created: Enable fails after the freeze, and the cgroup is thawed.
        Directory.Delete(dir);
        await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));
        AssertThawed(cgroup);
        Assert.Equal(guest.ExpectedHash(2), child.ReadPage(child.MappedAt[0] + (nint)PageSize.PagesToBytes(2)));
    }

    [Fact]
    public async Task A_process_not_in_the_cgroup_attached_with_freeze_is_refused_and_without_freeze_is_not()
    {
        using var cgroup = TestCgroup.Create();
        using var guest = new GuestFixture(16);
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { FreezeCgroup = cgroup.Directory }, name: "cgroup-outsider");
        using var outsider = Elsewhere(guest);

        var refused = await Assert.ThrowsAsync<SwapCommandException>(() => swap.AttachProcessAsync(outsider.Uffd, outsider.Pid, outsider.MappedAt, freeze: true).WaitAsync(Deadline));
        Assert.Contains($"pid {outsider.Pid} is not in the freeze cgroup {cgroup.Directory}", refused.Message, StringComparison.Ordinal);
        Assert.True(outsider.Uffd.Fd.IsClosed);

        using var unfrozen = Elsewhere(guest);
        Assert.Equal(CommandOutcome.Accepted, (await swap.AttachProcessAsync(unfrozen.Uffd, unfrozen.Pid, unfrozen.MappedAt, freeze: false).WaitAsync(Deadline)).Outcome);
        await swap.EnableAsync().WaitAsync(Deadline);
        Assert.False(cgroup.IsFrozen);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
    }

    [Fact]
    public void A_freeze_cgroup_that_is_no_cgroup_or_the_root_is_refused_at_start_naming_it()
    {
        var mount = Cgroup2Hierarchy.Find() ?? throw new InvalidOperationException("cgroup2 is not mounted: mount it, e.g. 'mount -t cgroup2 none /sys/fs/cgroup/unified'");
        using var guest = new GuestFixture(16);

        var root = Assert.Throws<CgroupException>(() => SwapController.Start(Sys, guest.Memory, Options() with { FreezeCgroup = mount.MountPoint }, name: "cgroup-root"));
        Assert.Contains(mount.MountPoint, root.Message, StringComparison.Ordinal);
        Assert.Contains("cgroup.freeze", root.Message, StringComparison.Ordinal);

        var temp = Directory.CreateTempSubdirectory("vmmswap-no-cgroup-").FullName;
        try
        {
            var notCgroup = Assert.Throws<CgroupException>(() => SwapController.Start(Sys, guest.Memory, Options() with { FreezeCgroup = temp }, name: "cgroup-none"));
            Assert.Contains(temp, notCgroup.Message, StringComparison.Ordinal);
            Assert.Contains("is not a cgroup v2 directory", notCgroup.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(temp);
        }
    }

    [Fact]
    public void Close_thaws_the_cgroup_and_a_process_that_died_frozen_is_no_error()
    {
        using var cgroup = TestCgroup.Create();
        using var dies = Sleeper();
        using var stays = Sleeper();
        cgroup.Add(dies.Id);
        cgroup.Add(stays.Id);
        var processes = new AttachedProcesses(Logging.GetLogger(Sys, "cgroup-freeze-test"), CgroupFreezer.Open(cgroup.Directory));
        processes.Add(Attached(dies));
        processes.Add(Attached(stays));

        Assert.Equal(1, processes.FreezeAll());
        Assert.True(WaitFor(processes.AllFrozen), "the cgroup never showed frozen 1");
        Assert.True(cgroup.IsFrozen);
        dies.Kill();
        dies.WaitForExit();
        Assert.True(processes.AllFrozen());

        // The runtime stops while the move runs: the cgroup must not stay frozen.
        processes.Close();
        AssertThawed(cgroup);
        stays.Kill();
        stays.WaitForExit();
    }

    // The runtime wrote 0 to cgroup.freeze before it replied; cgroup.events follows.
    private static void AssertThawed(TestCgroup cgroup)
    {
        Assert.Equal("0", File.ReadAllText(Path.Combine(cgroup.Directory, "cgroup.freeze")).Trim());
        Assert.True(WaitFor(() => !cgroup.IsFrozen), "cgroup.events never said frozen 0");
    }

    private static ForeignUserfaultfd Elsewhere(GuestFixture guest) =>
        ForeignUserfaultfd.Create(guest.Memory.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, (nint)0, r.Size)));

    private static AttachedProcess Attached(Process child) =>
        new(Userfaultfd.Create(), Pidfd.Open(child.Id), freeze: true) { State = AttachmentState.Attached };

    private static Process Sleeper() =>
        Process.Start(new ProcessStartInfo("sleep", ["120"]) { RedirectStandardInput = true })
            ?? throw new InvalidOperationException("sleep did not start");

    // Every wait waits for the state with a generous deadline.
    private static bool WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(1);
        }

        return true;
    }

    // Called synchronously by the EventStream, on the thread that logs.
    private sealed class AtMoveStart(TestCgroup cgroup, int free) : Akka.Actor.MinimalActorRef
    {
        public (bool CgroupFrozen, ProcessRunState Free)? States { get; private set; }

        public override Akka.Actor.ActorPath Path { get; } = new Akka.Actor.RootActorPath(new Akka.Actor.Address("akka", "at-move-start")) / "probe";

        public override Akka.Actor.IActorRefProvider Provider => throw new NotSupportedException();

        protected override void TellInternal(object message, Akka.Actor.IActorRef sender)
        {
            if (message is Info info && $"{info.Message}".Contains("moving guest memory to staging", StringComparison.Ordinal))
            {
                States = (cgroup.IsFrozen, ProcessStates.Of(free));
            }
        }
    }
}
