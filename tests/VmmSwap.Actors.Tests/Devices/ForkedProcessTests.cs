using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

/// <summary>
/// Userfaultfds handed over by other processes (a VMM's forked children): a real python3 child
/// that maps the guest's memfds at the host's addresses, as a forked child shares them.
/// </summary>
public sealed class ForkedProcessTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task A_child_attached_while_enabled_is_registered_at_once_and_reads_and_writes_every_page_intact()
    {
        using var guest = new GuestFixture(96, 32);
        guest.Fill(seed: 71);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "fork-while-enabled");
        await swap.EnableAsync().WaitAsync(Deadline);
        using var child = ForeignUserfaultfd.Create(guest.Mappings);

        var attached = await swap.ProcessForkedAsync(child.Uffd).WaitAsync(Deadline);
        Assert.Equal(CommandOutcome.Accepted, attached.Outcome);
        Assert.Equal(SwapState.Pending, attached.Status.State);

        // Half the pages through the child while staged, the rest after swap-out, from the file.
        for (long p = 0; p < guest.Memory.PageCount; p += 2)
        {
            Assert.Equal(guest.ExpectedHash(p), child.ReadPage(guest.Memory.PageAddress(p)));
        }

        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        for (long p = 1; p < guest.Memory.PageCount; p += 2)
        {
            Assert.Equal(guest.ExpectedHash(p), child.ReadPage(guest.Memory.PageAddress(p)));
        }

        // A page the child writes is the guest's newest; the parent sees it after Disable.
        child.WritePage(guest.Memory.PageAddress(5), 0x5A);
        guest.Expected[5] = Enumerable.Repeat((byte)0x5A, PageSize.Bytes).ToArray();

        await swap.DisableAsync().WaitAsync(Deadline);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Null(ready.Error);
        Assert.Empty(guest.Mismatches());

        // The next cycle still registers the child and keeps the page counts straight.
        var again = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.WrittenPages, again.Status.Metrics.StagingPages + again.Status.Metrics.SwapPages);
        Assert.Equal(guest.ExpectedHash(7), child.ReadPage(guest.Memory.PageAddress(7)));
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_child_whose_mapping_is_elsewhere_is_refused_naming_the_cause()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 72);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "fork-elsewhere");

        // A child that maps no guest memory: at the guest's addresses it has nothing (ENOMEM, "maps
        // guest memory elsewhere") or memory of its own that cannot be registered (EINVAL).
        using var child = ForeignUserfaultfd.Create([], features: 0x28);
        var error = await Assert.ThrowsAsync<SwapCommandException>(() => swap.ProcessForkedAsync(child.Uffd).WaitAsync(Deadline));

        Assert.Contains("its guest memory cannot be registered", error.Message, StringComparison.Ordinal);
        Assert.True(
            error.Message.Contains("ENOMEM", StringComparison.Ordinal) && error.Message.Contains("maps guest memory elsewhere", StringComparison.Ordinal)
                || error.Message.Contains("EINVAL", StringComparison.Ordinal),
            error.Message);
        Assert.True(child.Uffd.Fd.IsClosed, "a refused userfaultfd is closed by the runtime");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    // Disable, or a stop without Exit (as a host shutdown does: the stop path swaps every page in
    // and unregisters): the dead child's userfaultfd is expected to be gone, not an error.
    [Theory]
    [InlineData("disable")]
    [InlineData("stop")]
    public async Task A_child_that_dies_while_registered_is_dropped_without_an_error(string end)
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 73, stride: 2);
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: $"fork-dies-{end}");
        using var child = ForeignUserfaultfd.Create(guest.Mappings);
        await swap.ProcessForkedAsync(child.Uffd).WaitAsync(Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        child.KillOwner();
        if (end == "stop")
        {
            var probe = CreateTestProbe();
            probe.Watch(swap.Supervisor);
            Sys.Stop(swap.Supervisor);
            await probe.ExpectTerminatedAsync(swap.Supervisor, Deadline);
            Assert.Empty(guest.Mismatches());
            await errors.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
            return;
        }

        await swap.DisableAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.Ready, (await swap.WaitForStateAsync(SwapState.Ready, Deadline)).State);
        Assert.Empty(guest.Mismatches());
        await errors.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        // And the next cycle goes on without it.
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_userfaultfd_that_enable_cannot_register_fails_the_enable_naming_it_and_is_dropped()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 74);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "enable-bad-uffd");

        // Accepted while disabled (nothing is registered), but the guest cannot be registered with
        // two userfaultfds of one process: Enable names it, drops it and stays disabled.
        var second = Userfaultfd.Create();
        var fd = second.Fd.Value;
        await swap.ProcessForkedAsync(second).WaitAsync(Deadline);
        var error = await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));

        Assert.Contains($"fd {fd}", error.Message, StringComparison.Ordinal);
        Assert.Contains("EBUSY", error.Message, StringComparison.Ordinal);
        Assert.Equal(SwapState.Ready, error.Reply.Status.State);
        Assert.Empty(guest.Mismatches());

        var enabled = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }
}
