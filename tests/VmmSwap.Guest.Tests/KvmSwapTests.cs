using Akka.Configuration;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Guest.Host;
using VmmSwap.Guest.Vcpus;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Guest.Tests;

/// <summary>
/// The real runtime (SwapController) serving a real KVM guest over the same GuestMemory: every
/// first touch is a vCPU's, raised by KVM on the vCPU thread inside KVM_RUN.
/// </summary>
public sealed class KvmSwapTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(
        ConfigurationFactory.ParseString("akka.loglevel = INFO").WithFallback(VmmSwapConfig.For(new VmmSwapOptions())),
        "vmm-swap-kvm-test",
        output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Between sweeps of a guest left running through jobs: it touches its pages now and then
    // instead of taking a core from the fault thread.
    private static readonly TimeSpan SweepPause = TimeSpan.FromMilliseconds(2);

    private static VmmSwapOptions Options(string? swapDirectory = null) => new() { PageWorkerCount = 2, SwapDirectory = swapDirectory };

    [KvmFact]
    public async Task A_kvm_guest_faults_from_staging_then_from_the_file_and_as_zero_pages_and_sees_its_own_bytes_each_time()
    {
        using var guest = new SwappedKvmGuest(vcpus: 2, seed: 21, regionPages: [768, 512]);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "kvm-sources");

        await swap.EnableAsync().WaitAsync(Deadline);
        var fromStaging = guest.Host.Start(guest.HalfPages, sweeps: 2).WaitUntilDone(Deadline);
        var afterStaging = await swap.StatusAsync().WaitAsync(Deadline);
        Assert.Equal(guest.HalfPages.Sum(), fromStaging.Sum(r => r.FirstTouches));
        Assert.Equal(fromStaging.Sum(r => r.FirstTouches), afterStaging.Metrics.CopiedFromStagingPages);
        Assert.Equal(0, afterStaging.Metrics.CopiedFromFilePages);

        await swap.TrimAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        var fromFile = guest.Host.Start(guest.AllPages, sweeps: 2).WaitUntilDone(Deadline);
        var afterFile = await swap.StatusAsync().WaitAsync(Deadline);

        // The second halves were never touched: each comes from the file, or as a zero page where trim found zeros.
        var secondHalves = guest.AllPages.Sum() - guest.HalfPages.Sum();
        Assert.Equal(secondHalves, fromFile.Sum(r => r.FirstTouches));
        Assert.True(afterFile.Metrics.CopiedFromFilePages > 0, $"no page came from the file: {afterFile.Metrics}");
        Assert.True(afterFile.Metrics.ZeroedPages > 0, $"no zero page was served: {afterFile.Metrics}");
        Assert.Equal(secondHalves, afterFile.Metrics.CopiedFromFilePages + afterFile.Metrics.ZeroedPages);
        Assert.All(fromStaging.Concat(fromFile), r => Assert.Equal(0, r.Mismatches));
        Assert.All(fromStaging.Concat(fromFile), r => Assert.Equal(r.FirstTouches, r.FirstTouchMicroseconds.Count));
        Assert.All(fromStaging.Concat(fromFile).SelectMany(r => r.FirstTouchMicroseconds), us => Assert.True(us > 0));

        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [KvmFact]
    public async Task Two_kvm_vcpus_writing_through_repeated_life_cycles_keep_every_page()
    {
        using var guest = new SwappedKvmGuest(vcpus: 2, seed: 22, regionPages: [1024, 512]);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "kvm-life-cycle");

        for (var cycle = 0; cycle < 3; cycle++)
        {
            // Enable with the guest paused, as a VMM does; then it runs through trim, swap-out and swap-in.
            await swap.EnableAsync().WaitAsync(Deadline);
            guest.Host.ForgetFirstTouches();
            guest.Host.Start(guest.HalfPages, sweeps: 1).WaitUntilDone(Deadline);
            var run = guest.Host.Start(guest.AllPages, sweeps: 0, SweepPause);
            await swap.TrimAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Pending, Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);
            await swap.DisableAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Ready, Deadline);
            var results = run.Stop();

            // The second halves were first touched while the jobs ran: from staging, the file or as zeros.
            Assert.Equal(guest.AllPages.Sum() - guest.HalfPages.Sum(), results.Sum(r => r.FirstTouches));
            Assert.All(results, r => Assert.True(r.Writes > 0, $"cycle {cycle}: vCPU {r.Vcpu} wrote nothing"));
            Assert.All(results, r => Assert.Equal(0, r.Mismatches));
            Assert.Empty(guest.Mismatches());
        }
    }

    [KvmFact]
    public async Task Balloon_removes_of_guest_ranges_while_kvm_vcpus_fault_leave_those_pages_zero_and_every_other_page_intact()
    {
        using var guest = new SwappedKvmGuest(vcpus: 2, seed: 23, regionPages: [1024]);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "kvm-balloon");
        var removed = new HashSet<long>();

        await swap.EnableAsync().WaitAsync(Deadline);
        var run = guest.Host.Start(guest.AllPages, sweeps: 0, SweepPause);

        // Every fourth page is hot; a balloon gives back runs of the three cold pages between them,
        // staged (now) and, after swap-out, in the file; each remove waits until the runtime read it.
        await RemoveColdRunsAsync(guest, removed, first: 1, step: 40);
        await swap.TrimAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        await RemoveColdRunsAsync(guest, removed, first: 21, step: 40);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        var results = run.Stop();

        Assert.Equal(guest.AllPages.Sum(), results.Sum(r => r.FirstTouches));
        Assert.All(results, r => Assert.Equal(0, r.Mismatches));
        Assert.NotEmpty(removed);
        Assert.Empty(guest.Mismatches(removed));
    }

    [KvmFact]
    public async Task A_page_a_balloon_removes_under_a_kvm_vcpu_faults_again_and_the_guest_reads_zeros_there_only()
    {
        using var guest = new SwappedKvmGuest(vcpus: 1, seed: 26, regionPages: [1024]);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "kvm-refault");
        await swap.EnableAsync().WaitAsync(Deadline);
        guest.Host.Start(guest.AllPages, sweeps: 1).WaitUntilDone(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        // Hot pages the vCPU has mapped (resident, in KVM's page tables) and whose bytes are not
        // zeros (the fill zeroes every third page): a balloon takes some back. Each MADV_REMOVE
        // returns once the runtime has read its REMOVE event, and KVM drops its mappings of them.
        var pages = guest.Host.Pages(0);
        var removed = pages.Where((p, i) => p % 3 != 0 && i % 7 == 2).ToList();
        foreach (var page in removed)
        {
            guest.Memory.Remove(guest.Memory.PageAddress(page), (ulong)PageSize.Bytes);
        }

        var before = (await swap.StatusAsync().WaitAsync(Deadline)).Metrics;
        var result = Assert.Single(guest.Host.Start(guest.AllPages, sweeps: 1).WaitUntilDone(Deadline));
        var after = (await swap.StatusAsync().WaitAsync(Deadline)).Metrics;

        // The vCPU faulted on each removed page again, was served a zero page, and saw zeros
        // where it had last seen its own bytes; nowhere else.
        Assert.Equal(removed.Count, after.ZeroedPages - before.ZeroedPages);
        Assert.Equal(0, after.CopiedFromFilePages + after.CopiedFromStagingPages - before.CopiedFromFilePages - before.CopiedFromStagingPages);
        Assert.Equal(removed, result.MismatchedPages);

        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Subset(removed.ToHashSet(), guest.Mismatches().ToHashSet());
    }

    [KvmFact]
    public async Task A_fault_the_runtime_cannot_serve_surfaces_from_the_host_as_a_stalled_vcpu_within_its_deadline_not_a_hang()
    {
        var swapDir = Directory.CreateTempSubdirectory("vmm-swap-kvm-unserved-").FullName;
        var deadline = TimeSpan.FromSeconds(2);
        using var guest = new SwappedKvmGuest(vcpus: 2, seed: 24, new KvmGuestOptions(Seed: 24, ProgressDeadline: deadline), regionPages: [256]);
        try
        {
            var swap = SwapController.Start(Sys, guest.Memory, Options(swapDir), name: "kvm-unserved");
            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);

            // The disk loses the swap file's bytes: the runtime's copy from it fails, it goes
            // Failed and parks the fault, and the vCPU waits in KVM_RUN with nothing to end it.
            using (var file = SwapFileOnDisk.Open(swapDir))
            {
                RandomAccess.SetLength(file, 0);
            }

            var run = guest.Host.Start(guest.AllPages, sweeps: 1);
            var error = Assert.Throws<GuestStalledException>(() => run.WaitUntilDone(Deadline));

            Assert.Equal(2, error.Stalls.Count);
            foreach (var stall in error.Stalls)
            {
                Assert.True(stall.For >= deadline, stall.ToString());
                Assert.Equal(guest.Memory.PageAddress(guest.Host.Pages(stall.Vcpu)[0]), stall.HostAddress);
                Assert.Equal(guest.Host.Map.PageAddress(guest.Host.Pages(stall.Vcpu)[0]), stall.GuestPhysicalAddress);
            }

            Assert.True(run.Ended, "the stalled vCPUs were kicked out of KVM_RUN");
            Assert.Equal(SwapState.Failed, (await swap.StatusAsync().WaitAsync(Deadline)).State);

            // The file comes back (as zeros); Disable brings every page in and wakes the parked faults.
            using (var file = SwapFileOnDisk.Open(swapDir))
            {
                RandomAccess.SetLength(file, (long)PageSize.PagesToBytes(guest.Memory.PageCount));
            }

            await swap.DisableAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        }
        finally
        {
            Directory.Delete(swapDir, recursive: true);
        }
    }

    [KvmFact]
    public async Task Stopping_the_runtime_while_kvm_vcpus_fault_swaps_every_page_back_in_and_the_guest_runs_on()
    {
        using var guest = new SwappedKvmGuest(vcpus: 2, seed: 25, regionPages: [1024]);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "kvm-stopped");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        var run = guest.Host.Start(guest.AllPages, sweeps: 0, SweepPause);

        // No Exit: the actor system terminates under the running guest, and its shutdown swaps
        // every page back in (faults served meanwhile) before the userfaultfd closes.
        await Sys.Terminate().WaitAsync(Deadline);
        var results = run.Stop().ToList();
        results.AddRange(guest.Host.Start(guest.AllPages, sweeps: 2).WaitUntilDone(Deadline));

        Assert.All(results, r => Assert.Equal(0, r.Mismatches));
        Assert.Empty(guest.Mismatches());
    }

    private static async Task RemoveColdRunsAsync(SwappedKvmGuest guest, HashSet<long> removed, long first, long step)
    {
        for (var page = first; page + 3 <= guest.Memory.PageCount; page += step)
        {
            var start = page - (page % 4) + 1;
            var address = guest.Memory.PageAddress(start);
            await Task.Run(() => guest.Memory.Remove(address, (ulong)PageSize.Bytes * 3)).WaitAsync(Deadline);
            removed.UnionWith([start, start + 1, start + 2]);
        }
    }
}
