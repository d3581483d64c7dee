using Akka.Actor;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.FaultPath;

/// <summary>Every fault ends: served, woken for the kernel to resolve, or parked with the runtime Failed and the host told.</summary>
public sealed class FaultOutcomeTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_fault_from_a_process_that_registered_guest_memory_itself_while_disabled_is_woken()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 81, stride: 2);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "fault-while-ready");
        using var child = ForeignUserfaultfd.Create(guest.Mappings);
        await swap.ProcessForkedAsync(child.Uffd).WaitAsync(Deadline);

        // The child registers its own mapping while swap is disabled and touches a hole (page 1)
        // and a written page (page 2): the runtime serves neither, so it must wake both.
        child.RegisterOwnMappings();
        var read = Task.Run(() => (child.ReadPage(guest.Memory.PageAddress(1)), child.ReadPage(guest.Memory.PageAddress(2))));

        Assert.True(await Task.WhenAny(read, Task.Delay(Short)) == read, "the child's fault was never woken");
        Assert.Equal((guest.ExpectedHash(1), guest.ExpectedHash(2)), await read);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Theory]
    [InlineData("no handshake")]
    [InlineData("closed")]
    [InlineData("not a userfaultfd")]
    [InlineData("missing features")]
    public async Task A_bad_descriptor_handed_over_is_refused_with_the_cause_and_the_runtime_goes_on(string kind)
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 82);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: $"bad-uffd-{kind.Replace(' ', '-')}");
        using var child = ForeignUserfaultfd.Create(guest.Mappings, features: kind == "no handshake" ? -1 : 0);
        var (uffd, expected) = kind switch
        {
            "no handshake" => (child.Uffd, "never completed the UFFDIO_API handshake"),
            "closed" => (Closed(), "closed"),
            "not a userfaultfd" => (Userfaultfd.Adopt(DevNull()), "not a userfaultfd"),
            _ => (child.Uffd, "EVENT_REMOVE"),
        };

        var error = await Assert.ThrowsAsync<SwapCommandException>(() => swap.ProcessForkedAsync(uffd).WaitAsync(Deadline));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.True(uffd.Fd.IsClosed, "a refused descriptor is closed by the runtime");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_watched_userfaultfd_that_cannot_be_read_is_dropped_without_crashing_the_host()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 83);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "unreadable-uffd");
        using var child = ForeignUserfaultfd.Create(guest.Mappings, features: -1);

        // Past the hand-over checks, straight to the pump: reading an un-handshaken userfaultfd fails (EINVAL).
        var pump = await Sys.ActorSelection(swap.Supervisor.Path / "fault-pump").ResolveOne(Deadline);
        pump.Tell(new WatchUffd(child.Uffd));

        await AwaitAssertAsync(() => Assert.True(child.Uffd.Fd.IsClosed, "the unreadable userfaultfd is dropped and closed"), Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_fault_that_fails_moves_to_failed_publishes_the_cause_and_its_thread_gets_the_page_after_disable()
    {
        var swapDir = Directory.CreateTempSubdirectory("vmm-swap-fault-fails-").FullName;
        using var guest = new GuestFixture(64);
        Thread? reader = null;
        try
        {
            guest.Fill(seed: 84);
            var failures = CreateTestProbe();
            Sys.EventStream.Subscribe(failures.Ref, typeof(VmmSwapFailed));
            var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = swapDir }, name: "fault-fails");
            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);

            // The disk loses the file's bytes: a copy from its mapping now fails (EFAULT).
            using (var file = SwapFileOnDisk.Open(swapDir))
            {
                RandomAccess.SetLength(file, 0);
            }

            var buffer = new byte[PageSize.Bytes];
            reader = new Thread(() => guest.Memory.Read(guest.Memory.PageAddress(3), buffer)) { IsBackground = true };
            reader.Start();

            var failed = await failures.ExpectMsgAsync<VmmSwapFailed>(Deadline);
            Assert.Equal(SwapFailureKind.IoError, failed.Failure.Kind);
            Assert.Contains("UFFDIO_COPY", failed.Failure.Message, StringComparison.Ordinal);
            Assert.Contains($"0x{guest.Memory.PageAddress(3):X}", failed.Failure.Message, StringComparison.Ordinal);
            var status = await swap.StatusAsync();
            Assert.Equal(SwapState.Failed, status.State);
            Assert.Equal(failed.Failure.Message, status.Error);
            Assert.True(reader.IsAlive, "the thread whose fault failed waits; it was not handed a wrong page");

            // The file comes back (zeros where its bytes were): Disable brings every page in and wakes the thread.
            using (var file = SwapFileOnDisk.Open(swapDir))
            {
                RandomAccess.SetLength(file, (long)PageSize.PagesToBytes(guest.Memory.PageCount));
            }

            await swap.DisableAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Ready, Deadline);
            Assert.True(reader.Join(Deadline), "the parked thread was woken after Disable");
            Assert.Equal(new byte[PageSize.Bytes], buffer);
        }
        finally
        {
            // A thread still parked in a fault must end before the guest is unmapped: stopping the
            // runtime closes its userfaultfd, and the kernel then resolves the fault itself.
            if (reader is { IsAlive: true })
            {
                Shutdown();
                reader.Join(Deadline);
            }

            Directory.Delete(swapDir, recursive: true);
        }
    }

    private static Userfaultfd Closed()
    {
        var uffd = Userfaultfd.Create();
        uffd.Dispose();
        return uffd;
    }

    private static SafeFd DevNull()
    {
        var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        var fd = new SafeFd((int)handle.DangerousGetHandle());
        handle.SetHandleAsInvalid();
        return fd;
    }
}
