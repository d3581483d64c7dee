using VmmSwap.Actors;
using VmmSwap.Cli.Common;
using VmmSwap.Cli.Soak;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;

namespace VmmSwap.Cli.Tests.Soak;

/// <summary>
/// The soak's verdict rests on its checker: a page changed behind the runtime's back must be
/// reported lost, with what it read as, and a report with a lost page must not exit 0.
/// </summary>
public sealed class SoakCheckerTests
{
    private const int Seed = 11;
    private const long Pages = 64;

    [Fact]
    public async Task A_page_corrupted_behind_the_runtime_s_back_while_enabled_is_reported_lost()
    {
        using var guest = SoakGuest.Create(PageSize.PagesToBytes(Pages));
        var reference = Filled(guest.Memory);
        var counters = new SoakCounters { Cycle = 1 };
        var checker = new PageChecker(guest.Memory, reference, counters);
        using var logger = DemoLogging.CreateLogger(TextWriter.Null);
        await using var runtime = await SwapRuntime.StartAsync(guest.Memory, Path.GetTempPath(), logger, CancellationToken.None);
        Assert.Equal(CommandOutcome.Accepted, (await runtime.Controller.EnableAsync()).Outcome);

        // Every page is in staging now. A write to the memfd itself, past the registered mapping,
        // puts a page there that the runtime knows nothing of: the guest reads it, not its own.
        var region = guest.Memory.Regions[0];
        FileOps.WriteAll(region.MemFd, new byte[PageSize.Bytes], (long)PageSize.PagesToBytes(9));
        var old = new byte[PageSize.Bytes];
        PageContent.Fill(Seed, 20, 0, old);
        Write(guest.Memory, reference, 20, version: 1);
        FileOps.WriteAll(region.MemFd, old, (long)PageSize.PagesToBytes(20));

        var lost = Enumerable.Range(0, (int)Pages).Where(p => !checker.Check(p, CheckedBy.CycleCheck)).ToList();

        Assert.Equal([9, 20], lost);
        Assert.Equal(2, counters.LostPages);
        Assert.Equal(Pages, counters.Checked(CheckedBy.CycleCheck));
        var zeros = counters.Lost.Single(l => l.Page == 9);
        Assert.Equal((ObservedContent.Zeros, 0, false, 1), (zeros.Observed, zeros.ExpectedVersion, zeros.ExpectedZeros, zeros.Cycle));
        var stale = counters.Lost.Single(l => l.Page == 20);
        Assert.Equal((ObservedContent.OlderVersion, 0, 1), (stale.Observed, stale.ObservedVersion, stale.ExpectedVersion));
        await runtime.Controller.DisableAsync();
        await runtime.Controller.WaitForStateAsync(SwapState.Ready, TimeSpan.FromMinutes(2));
    }

    [Fact]
    public void A_removed_page_must_read_as_zeros_and_anything_else_is_lost()
    {
        using var guest = SoakGuest.Create(PageSize.PagesToBytes(Pages));
        var reference = Filled(guest.Memory);
        var counters = new SoakCounters();
        var checker = new PageChecker(guest.Memory, reference, counters);

        guest.Memory.Remove(guest.Memory.PageAddress(3), (ulong)PageSize.Bytes);
        reference.Removed(3);
        reference.Removed(4);

        Assert.True(checker.Check(3, CheckedBy.GuestRead));
        Assert.False(checker.Check(4, CheckedBy.GuestRead));
        var lost = Assert.Single(counters.Lost);
        Assert.Equal((4L, true, ObservedContent.OlderVersion, (int?)0), (lost.Page, lost.ExpectedZeros, lost.Observed, lost.ObservedVersion));
    }

    [Fact]
    public void A_report_with_a_lost_page_exits_1_and_one_with_a_hang_exits_3()
    {
        var options = new SoakOptions();
        var lost = new SoakCounters();
        lost.PageLost(new LostPage(5, CheckedBy.SecondProcess, 1, 0, false, ObservedContent.Unrecognised, null));
        lost.Hang(HangKind.Command, "Enable got no reply", TimeSpan.FromSeconds(60));
        var hung = new SoakCounters();
        hung.Hang(HangKind.Command, "Enable got no reply", TimeSpan.FromSeconds(60));

        Assert.Equal(SoakExitCodes.Lost, Report(options, lost).ExitCode);
        Assert.Equal(SoakExitCodes.Hang, Report(options, hung).ExitCode);
        Assert.Equal(SoakExitCodes.Ok, Report(options, new SoakCounters()).ExitCode);
        Assert.Contains("\"pages_lost\": 1", Report(options, lost).ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Pages_are_owned_by_exactly_one_thread_or_by_none_and_contents_follow_from_the_seed()
    {
        var owned = SoakLayout.Owned(1000, 3, Seed);
        var readOnly = SoakLayout.ReadOnlyPages(1000);

        var all = owned.SelectMany(o => o).Concat(readOnly).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 1000).Select(p => (long)p), all);
        Assert.Equal(1000 / SoakLayout.ReadOnlyStride, readOnly.Length);
        Assert.Equal(owned.Select(o => o.Order()), SoakLayout.Owned(1000, 3, Seed).Select(o => o.Order()));
        Assert.Equal(PageContent.Checksum(Seed, 5, 2), PageContent.Checksum(Seed, 5, 2));
        Assert.NotEqual(PageContent.Checksum(Seed, 5, 2), PageContent.Checksum(Seed, 5, 3));
        Assert.NotEqual(PageContent.Checksum(Seed, 5, 2), PageContent.Checksum(Seed, 6, 2));
        Assert.Equal(PageContent.ZeroChecksum, PageContent.Checksum(Seed, 5, 7));
    }

    private static SoakReport Report(SoakOptions options, SoakCounters counters) =>
        new(options, Pages, 1, TimeSpan.FromSeconds(1), interrupted: false, counters, ("filled", true), "not available (test)", null, null);

    private static PageReference Filled(GuestMemory guest)
    {
        var reference = new PageReference(Seed, guest.PageCount);
        var page = new byte[PageSize.Bytes];
        for (long p = 0; p < guest.PageCount; p++)
        {
            PageContent.Fill(Seed, p, 0, page);
            guest.Write(guest.PageAddress(p), page);
        }

        return reference;
    }

    private static void Write(GuestMemory guest, PageReference reference, long page, int version)
    {
        var bytes = new byte[PageSize.Bytes];
        PageContent.Fill(Seed, page, version, bytes);
        guest.Write(guest.PageAddress(page), bytes);
        reference.Written(page, version, GuestMemory.ChecksumOf(bytes));
    }
}
