using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Guest.Host;
using VmmSwap.Guest.Program;
using VmmSwap.Guest.Vcpus;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Guest.Tests;

/// <summary>The guest program on real KVM over plain guest memory, no swap runtime: what it reads, writes, logs and reports.</summary>
public sealed class GuestProgramTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void The_host_checksum_is_fnv1a_over_the_pages_words()
    {
        var page = new byte[PageSize.Bytes];
        Assert.Equal(FnvOverWords(page), PageChecksum.Of(page));
        new Random(5).NextBytes(page);
        Assert.Equal(FnvOverWords(page), PageChecksum.Of(page));
    }

    [KvmFact]
    public void Two_vcpus_sweep_their_pages_see_what_was_written_and_log_one_first_touch_per_page()
    {
        using var memory = GuestMemory.Create(PageSize.PagesToBytes(600), PageSize.PagesToBytes(300));
        Fill(memory, seed: 3);
        long[][] pages = [[.. Enumerable.Range(0, 300).Select(p => (long)p * 2)], [.. Enumerable.Range(0, 50).Select(p => 601L + p)]];
        using var host = KvmGuestHost.Create(memory, pages, new KvmGuestOptions(Seed: 9));
        Assert.True(host.TscHz > 1e8, $"TSC rate {host.TscHz:F0} Hz");

        var results = host.Start([300, 50], sweeps: 3).WaitUntilDone(Deadline);

        Assert.Equal([3L, 3L], results.Select(r => r.Sweeps));
        Assert.Equal([900L, 150L], results.Select(r => r.Accesses));
        Assert.Equal([300L, 50L], results.Select(r => r.FirstTouches));
        Assert.Equal([300, 50], results.Select(r => r.FirstTouchMicroseconds.Count));
        Assert.All(results, r => Assert.Equal(0, r.Mismatches));
        Assert.All(results, r => Assert.InRange(r.Writes, 1, r.Accesses - 1));
        Assert.Empty(host.VerifyPages());

        // A second run over the same pages touches nothing for the first time.
        var again = host.Start([300, 50], sweeps: 1).WaitUntilDone(Deadline);
        Assert.All(again, r => Assert.Equal(0, r.FirstTouches));
        Assert.Empty(host.VerifyPages());
    }

    [KvmFact]
    public void A_page_changed_behind_the_guests_back_is_reported_as_a_mismatch()
    {
        using var memory = GuestMemory.Create(PageSize.PagesToBytes(64));
        Fill(memory, seed: 4);
        using var host = KvmGuestHost.Create(memory, [[10, 11, 12, 13]]);
        host.Start([4], sweeps: 1).WaitUntilDone(Deadline);

        memory.Fill(memory.PageAddress(12), 0xEE, (ulong)PageSize.Bytes);
        var result = Assert.Single(host.Start([4], sweeps: 1).WaitUntilDone(Deadline));

        Assert.Equal(1, result.Mismatches);
        Assert.Equal([12L], result.MismatchedPages);
        Assert.Equal([12L], host.VerifyPages());
    }

    [KvmFact]
    public void A_run_stopped_mid_sweep_leaves_every_written_page_matching_the_checksum_the_guest_recorded()
    {
        // A stop that lands between the guest's store to a page and its store of the page's new
        // checksum would leave the two disagreeing, and a later check would call the page corrupt.
        using var memory = GuestMemory.Create(PageSize.PagesToBytes(64));
        Fill(memory, seed: 6);
        using var host = KvmGuestHost.Create(memory, [[.. Enumerable.Range(0, 32).Select(p => (long)p)], [.. Enumerable.Range(32, 32).Select(p => (long)p)]]);
        var random = new Random(6);
        long writes = 0;
        for (var stop = 0; stop < 200; stop++)
        {
            var run = host.Start([32, 32], sweeps: 0);
            Thread.SpinWait(random.Next(1, 20_000));
            writes += run.Stop().Sum(r => r.Writes);
            Assert.Empty(host.VerifyPages());
        }

        Assert.True(writes > 0, "the guest wrote nothing before its stops");
    }

    [KvmFact]
    public void Waiting_for_a_run_whose_vcpus_end_together_returns_each_vcpus_result()
    {
        // The wait looks for a vCPU still running after it found one: the last ones ending in
        // between left it with none to join.
        using var memory = GuestMemory.Create(PageSize.PagesToBytes(64));
        Fill(memory, seed: 7);
        using var host = KvmGuestHost.Create(memory, [[1], [17], [33], [49]]);
        for (var run = 0; run < 1000; run++)
        {
            var results = host.Start([1, 1, 1, 1], sweeps: 1).WaitUntilDone(Deadline);
            Assert.All(results, r => Assert.Equal(1, r.Sweeps));
        }
    }

    [KvmFact]
    public void A_vcpu_stuck_in_a_fault_nobody_serves_is_reported_by_the_watchdog_with_its_address_and_kicked_out()
    {
        using var memory = GuestMemory.Create(PageSize.PagesToBytes(64));
        Fill(memory, seed: 5);
        using var host = KvmGuestHost.Create(memory, [[1, 2, 3], [40, 41]], new KvmGuestOptions(ProgressDeadline: TimeSpan.FromSeconds(1)));

        // Page 41 goes missing under a userfaultfd no one reads: vCPU 1's touch waits in KVM_RUN.
        using var uffd = Userfaultfd.Create();
        uffd.Register(memory.PageAddress(41), (ulong)PageSize.Bytes);
        Native.Files.FileOps.PunchHole(memory.Regions[0].MemFd, (long)PageSize.PagesToBytes(41), PageSize.Bytes);
        var run = host.Start([3, 2], sweeps: 1);

        var error = Assert.Throws<GuestStalledException>(() => run.WaitUntilDone(Deadline));
        var stall = Assert.Single(error.Stalls);
        Assert.Equal(1, stall.Vcpu);
        Assert.Equal(host.Map.PageAddress(41), stall.GuestPhysicalAddress);
        Assert.Equal(memory.PageAddress(41), stall.HostAddress);
        Assert.True(stall.For >= TimeSpan.FromSeconds(1));
        Assert.Contains($"vCPU 1 made no progress", error.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{memory.PageAddress(41):X}", error.Message, StringComparison.Ordinal);
        Assert.True(run.Ended, "the stalled vCPU was kicked out of KVM_RUN");
    }

    private static void Fill(GuestMemory memory, int seed)
    {
        var random = new Random(seed);
        var page = new byte[PageSize.Bytes];
        for (long p = 0; p < memory.PageCount; p++)
        {
            random.NextBytes(page);
            memory.Write(memory.PageAddress(p), page);
        }
    }

    private static ulong FnvOverWords(byte[] page)
    {
        var hash = 0xCBF2_9CE4_8422_2325UL;
        for (var i = 0; i < page.Length; i += 8)
        {
            hash ^= BitConverter.ToUInt64(page, i);
            hash *= 0x100_0000_01B3UL;
        }

        return hash;
    }
}
