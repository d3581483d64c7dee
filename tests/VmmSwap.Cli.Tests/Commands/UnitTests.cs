using System.Diagnostics;
using VmmSwap.Cli.Common;
using VmmSwap.Cli.Demo;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Tests.Commands;

/// <summary>The demo's own arithmetic: region layout, page mix, percentiles, memory probes.</summary>
public sealed class UnitTests
{
    [Theory]
    [InlineData(16, 2)]
    [InlineData(16, 3)]
    [InlineData(1, 7)]
    [InlineData(512, 2)]
    public void Regions_are_page_aligned_and_sum_to_the_guest_size(long mib, int regions)
    {
        var sizes = new DemoOptions { GuestMib = mib, Regions = regions }.RegionSizes();

        Assert.Equal(regions, sizes.Length);
        Assert.Equal((ulong)(mib * 1024 * 1024), sizes.Aggregate(0UL, (a, b) => a + b));
        Assert.All(sizes, s => Assert.True(s > 0 && PageSize.IsAligned(s)));
        Assert.True(sizes.Max() - sizes.Min() <= (ulong)PageSize.Bytes);
    }

    [Fact]
    public void The_page_mix_is_deterministic_and_in_the_proportions_asked_for()
    {
        var options = new DemoOptions { ZeroPercent = 10, RepeatedPercent = 20, TextPercent = 30, Seed = 5 };
        var counts = Draw(options, out var firstPages);
        var again = Draw(options, out var firstPagesAgain);

        Assert.Equal(counts, again);
        Assert.Equal(firstPages, firstPagesAgain);
        Assert.InRange(counts[PageKind.Zero], 800, 1200);
        Assert.InRange(counts[PageKind.Repeated], 1700, 2300);
        Assert.InRange(counts[PageKind.Text], 2700, 3300);
        Assert.InRange(counts[PageKind.Random], 3700, 4300);
    }

    [Fact]
    public void Percentiles_use_the_nearest_rank()
    {
        var microsecond = Stopwatch.Frequency / 1_000_000.0;
        var ticks = Enumerable.Range(1, 100).Select(i => (long)(i * microsecond)).Reverse();

        var latency = FaultLatency.FromTicks(ticks);

        Assert.Equal(100, latency.Samples);
        Assert.Equal(50, latency.P50Microseconds, 0.5);
        Assert.Equal(99, latency.P99Microseconds, 0.5);
        Assert.Equal(100, latency.MaxMicroseconds, 0.5);
        Assert.Equal(FaultLatency.None, FaultLatency.FromTicks([]));
    }

    [Fact]
    public void Available_memory_is_read_from_proc_meminfo()
    {
        Assert.True(HostMemory.AvailableBytes() > 16 * DemoOptions.MiB);
    }

    [Theory]
    [InlineData("/tmp/#1234 (deleted)", "/tmp", true)]
    [InlineData("/tmp/#1234", "/tmp", false)]
    [InlineData("/tmp/file (deleted)", "/tmp", false)]
    [InlineData("/var/tmp/#1234 (deleted)", "/tmp", false)]
    [InlineData("/memfd:vmm-swap staging (deleted)", "/tmp", false)]
    public void Swap_files_are_recognised_by_their_kernel_name(string target, string directory, bool expected)
    {
        Assert.Equal(expected, OpenFiles.IsTmpFileIn(target, directory));
    }

    [Fact]
    public void The_swap_directory_is_named_as_the_kernel_names_it()
    {
        var validated = InputValidation.Validate(new DemoOptions { GuestMib = 16, SwapDir = "/tmp/" });

        Assert.Null(validated.Error);
        Assert.Equal("/tmp", validated.Setup!.SwapDirectory);
    }

    [Fact]
    public void The_parallel_fill_gives_the_same_guest_for_the_same_seed()
    {
        var options = new DemoOptions { GuestMib = 4, Regions = 3, Seed = 11 };
        using var first = GuestMemory.Create(options.RegionSizes());
        using var second = GuestMemory.Create(options.RegionSizes());
        var firstWorkload = new GuestWorkload(first, options);
        var secondWorkload = new GuestWorkload(second, options);

        Assert.Equal(first.PageCount, firstWorkload.Fill(_ => { }, CancellationToken.None));
        Assert.Equal(second.PageCount, secondWorkload.Fill(_ => { }, CancellationToken.None));

        Assert.Equal(firstWorkload.KindCounts, secondWorkload.KindCounts);
        Assert.Equal(first.PageCount, firstWorkload.KindCounts.Values.Sum());
        for (long page = 0; page < first.PageCount; page++)
        {
            Assert.Equal(first.PageChecksum(first.PageAddress(page)), second.PageChecksum(second.PageAddress(page)));
        }

        Assert.Empty(firstWorkload.Verify(_ => { }));
    }

    private static Dictionary<PageKind, int> Draw(DemoOptions options, out byte[][] firstPages)
    {
        var mix = new PageMix(options);
        var random = new Random(options.Seed);
        var counts = Enum.GetValues<PageKind>().ToDictionary(k => k, _ => 0);
        firstPages = new byte[8][];
        for (var i = 0; i < 10_000; i++)
        {
            var kind = mix.NextKind(random);
            counts[kind]++;
            var page = new byte[PageSize.Bytes];
            mix.Fill(kind, page, random);
            if (i < firstPages.Length)
            {
                firstPages[i] = page;
            }

            if (kind == PageKind.Zero)
            {
                Assert.All(page, b => Assert.Equal(0, b));
            }
        }

        return counts;
    }
}
