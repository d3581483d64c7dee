using VmmSwap.Cli.Bench;

namespace VmmSwap.Cli.Tests.Bench;

/// <summary>The multi-thread file-fault case's shares, and its section in the tables. Timings are never asserted.</summary>
public sealed class MultiThreadFaultsTests
{
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(4, true)]
    public void Each_thread_gets_its_own_contiguous_share_and_together_they_cover_every_page_once(int threads, bool random)
    {
        var pages = MultiThreadFaults.Pages(16384, threads);
        var shares = MultiThreadFaults.Shares(pages, threads, random);

        Assert.Equal(threads, shares.Length);
        var share = pages / threads;
        for (var t = 0; t < threads; t++)
        {
            Assert.Equal(share, shares[t].Length);
            Assert.Equal(Enumerable.Range(0, (int)share).Select(i => (t * share) + i), shares[t].Order());
            Assert.Equal(!random, shares[t].SequenceEqual(shares[t].Order()));
        }

        Assert.Equal(pages, shares.SelectMany(s => s).Distinct().Count());
    }

    [Fact]
    public void The_page_count_is_one_fault_cases_cut_to_whole_shares()
    {
        // 100 MiB: 25600 pages, 1600 per fault case; 1600 is 2 x 800 and not 3 x anything whole.
        Assert.Equal(1600, MultiThreadFaults.Pages(25600, 2));
        Assert.Equal(1599, MultiThreadFaults.Pages(25600, 3));
        Assert.Equal(BenchOptions.MaxFaultPages, MultiThreadFaults.Pages(1L << 20, 4));
    }

    [Fact]
    public void The_tables_show_the_section_and_a_target_per_thread_count_from_two_order_and_native_design()
    {
        var burst = new FaultBurst(10, 20, 30, 1000, 0.01, 100000);
        var slow = burst with { P99Us = 40 };
        var ours = new List<Dictionary<string, FaultBurst>> { MultiThreadFaults.Cases.ToDictionary(c => MultiThreadFaults.Key(c.Threads, c.Order), _ => burst) };
        var native = new List<Dictionary<string, MultiThreadReport.NativePair>>
        {
            MultiThreadFaults.Cases.ToDictionary(c => MultiThreadFaults.Key(c.Threads, c.Order), _ => new MultiThreadReport.NativePair(slow, burst)),
        };
        var result = MultiThreadReport.Size(64, 16384, ours, native);
        var targets = MultiThreadReport.Targets([result]);

        // 2 and 4 threads, seq and random, against both native designs; the 1-thread baseline has none.
        Assert.Equal(8, targets.Count);
        Assert.DoesNotContain(targets, t => t.Name.EndsWith(", 1 threads", StringComparison.Ordinal));
        Assert.All(targets.Where(t => t.Name.Contains("one uffd", StringComparison.Ordinal)), t => Assert.True(t.Met && t.Value == 0.5, t.ToString()));
        Assert.All(targets.Where(t => t.Name.Contains("uffd per thread", StringComparison.Ordinal)), t => Assert.True(t.Met && t.Value == 1.0, t.ToString()));

        var report = new BenchReport(new MachineInfo(2, 1L << 30, "k", "cpu"), [64], 1, "/swap", 100, new NativeInfo(true, "cc", "native_ref.c"), [], [], [result], [], [], targets);
        using var writer = new StringWriter();
        HumanBenchReport.Write(report, writer);
        var text = writer.ToString();

        Assert.Contains("File faults from several guest threads at once", text, StringComparison.Ordinal);
        Assert.Contains("multi-thread file fault random p99 / native one uffd, 4 threads", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Throughput", text, StringComparison.Ordinal);
    }
}
