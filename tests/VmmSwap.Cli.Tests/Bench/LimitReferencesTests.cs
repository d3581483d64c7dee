using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Bench;

namespace VmmSwap.Cli.Tests.Bench;

/// <summary>The limit references on a tiny guest with the real native_ref and kernel, and their section in the report. Timings are never asserted.</summary>
public sealed class LimitReferencesTests
{
    private const int TinyMib = 16;

    [Fact]
    public async Task A_tiny_run_reports_positive_limits_and_our_ratios_computed_from_them()
    {
        using var native = await NativeReference.BuildAsync(CancellationToken.None);
        var round = await LimitReferences.MeasureAsync(native, LimitReferences.Pages(TinyMib), new VmmSwapOptions().SwapChunkBytes, Path.GetTempPath(), CancellationToken.None);

        Assert.True(round.EnableGibS > 0, round.ToString());
        Assert.True(round.EnableThreads >= 1, round.ToString());
        Assert.True(round.SwapOutGibS > 0, round.ToString());
        Assert.True(round.SwapInGibS > 0, round.ToString());
        Assert.True(round.DiskReadGibS > 0, round.ToString());

        // 16 MiB is under the 64 MiB sync interval: only the final fdatasync.
        Assert.Equal(1, round.SwapOutFdatasyncs);

        var result = LimitReferences.Size(TinyMib, 0.5, 0.25, 0.75, [round]);
        Assert.Equal(0.5 / round.EnableGibS, result.Enable.Ratio, 9);
        Assert.Equal(0.25 / round.SwapOutGibS, result.SwapOut.Ratio, 9);
        Assert.Equal(0.75 / round.SwapInGibS, result.SwapIn.Ratio, 9);
        Assert.Equal(0.75 / round.DiskReadGibS, result.SwapInVsDisk, 9);
        Assert.Equal(round.EnableGibS, result.Enable.LimitGibPerS);

        // 4 GiB at 0.5 GiB/s: 8 s of pause.
        Assert.Equal(8000, result.EnablePauseMs, 6);
        Assert.Equal(4 / round.EnableGibS * 1000, result.LimitEnablePauseMs, 6);

        var targets = LimitReferences.Targets([result]).ToList();
        Assert.Equal(3, targets.Count);
        Assert.Contains(targets, t => t.Target == ">= 0.5" && t.Value == result.Enable.Ratio && t.Met == (result.Enable.Ratio >= 0.5));
        Assert.Contains(targets, t => t.Target == ">= 0.9" && t.Value == result.SwapOut.Ratio && t.Met == (result.SwapOut.Ratio >= 0.9));
        Assert.Contains(targets, t => t.Target == ">= 0.9" && t.Value == result.SwapIn.Ratio && t.Met == (result.SwapIn.Ratio >= 0.9));
    }

    [Fact]
    public async Task Limit_swapout_syncs_as_the_runtime_does_before_the_write_after_each_interval_and_at_the_end()
    {
        using var native = await NativeReference.BuildAsync(CancellationToken.None);
        var pages = LimitReferences.Pages(TinyMib).ToString(CultureInfo.InvariantCulture);

        // 2 MiB chunks, a sync every 4 MiB: before the writes at 4, 8 and 12 MiB, and the last one.
        using var json = await native.InvokeAsync(["limit-swapout", pages, Path.GetTempPath(), (2 << 20).ToString(CultureInfo.InvariantCulture), (4 << 20).ToString(CultureInfo.InvariantCulture)], CancellationToken.None);

        Assert.Equal(4, json.RootElement.GetProperty("fdatasyncs").GetInt64());
        Assert.True(json.RootElement.GetProperty("gib_per_s").GetDouble() > 0);
    }

    [Fact]
    public void The_report_shows_the_limits_table_the_pause_note_and_the_limits_in_its_json()
    {
        var round = new LimitRound(4, 2, 0.5, 3, 1, 2);
        var result = LimitReferences.Size(256, 2, 0.25, 0.95, [round]);
        var notes = LimitReferences.Notes([result], 2 << 20).ToList();
        var report = new BenchReport(new MachineInfo(2, 1L << 30, "k", "cpu"), [256], 1, "/swap", 100, new NativeInfo(true, "cc", "native_ref.c"), notes, [], [], [result], [], [.. LimitReferences.Targets([result])]);

        using var writer = new StringWriter();
        HumanBenchReport.Write(report, writer);
        // Notes wrap at the console's width.
        var text = Regex.Replace(writer.ToString(), @"\s+", " ");
        Assert.Contains("Limits: ours / the fastest this machine does the same move", text, StringComparison.Ordinal);
        Assert.Contains("a 4 GiB guest is paused ~2000 ms (at its limit, 4.00 GiB/s: ~1000 ms)", text, StringComparison.Ordinal);
        Assert.Contains("swap-out / limit (pwrite + writeback + fdatasync, same chunks)", text, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(BenchCommand.ToJson(report));
        var limits = Assert.Single(json.RootElement.GetProperty("limits").EnumerateArray());
        Assert.Equal(0.5, limits.GetProperty("enable").GetProperty("ratio").GetDouble());
        Assert.Equal(0.5, limits.GetProperty("swap_out").GetProperty("ratio").GetDouble());
        Assert.Equal(0.95, limits.GetProperty("swap_in").GetProperty("ratio").GetDouble());
        Assert.Equal(2000, limits.GetProperty("enable_pause_ms").GetDouble());
        Assert.Equal(4096, limits.GetProperty("pause_guest_mib").GetInt32());
        Assert.Equal(2, limits.GetProperty("disk_read_gib_per_s").GetDouble());
    }
}
