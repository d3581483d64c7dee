using System.Text.Json;
using VmmSwap.Cli.Bench;
using VmmSwap.Testing;

namespace VmmSwap.Cli.Tests.Bench;

/// <summary>The bench's KVM case on a small guest: every case is reported for ours and native_ref. Timings are never asserted.</summary>
public sealed class KvmBenchSmokeTests
{
    [KvmFact]
    public async Task The_kvm_case_reports_every_source_order_and_vcpu_count_for_both_sides()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var options = new BenchOptions([], Rounds: 1, Path.GetTempPath(), Json: true, Kvm: true, KvmPages: 512);

        var exit = await BenchCommand.RunAsync(options, stdout, stderr, CancellationToken.None);

        Assert.True(exit == BenchCommand.ExitOk, $"exit {exit}: {stderr}");
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;
        Assert.Equal(512, root.GetProperty("pages_per_case").GetInt32());
        Assert.Equal(150_000, root.GetProperty("anchor_pages_per_s").GetDouble());
        var cases = root.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal(18, cases.Count);
        Assert.Equal(
            [.. new[] { 1, 2, 4 }.SelectMany(v => new[] { "staging", "file", "zero" }.SelectMany(s => new[] { "seq", "random" }.Select(o => $"{v} {s} {o}")))],
            cases.Select(c => $"{c.GetProperty("vcpus").GetInt32()} {c.GetProperty("source").GetString()} {c.GetProperty("order").GetString()}"));
        foreach (var c in cases)
        {
            foreach (var side in new[] { "ours", "native" })
            {
                Assert.Equal(512, c.GetProperty(side).GetProperty("faults").GetInt64());
                Assert.True(c.GetProperty(side).GetProperty("p50_us").GetDouble() > 0, $"{c} {side}");
            }

            Assert.True(c.GetProperty("ours_pages_per_s").GetDouble() > 0, c.ToString());
            Assert.True(c.GetProperty("native_pages_per_s").GetDouble() > 0, c.ToString());
        }
    }

    [KvmFact]
    public async Task The_kvm_case_prints_a_table_with_a_row_per_case_and_the_anchor()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var options = new BenchOptions([], Rounds: 1, Path.GetTempPath(), Json: false, Kvm: true, KvmPages: 256);

        var exit = await BenchCommand.RunAsync(options, stdout, stderr, CancellationToken.None);

        Assert.True(exit == BenchCommand.ExitOk, $"exit {exit}: {stderr}");
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("demand_paging_test 150,000 pages/s at 1 vCPU on bare metal", lines[0], StringComparison.Ordinal);
        Assert.Equal(12, lines.Count(l => l.TrimStart().StartsWith("1 ", StringComparison.Ordinal) || l.TrimStart().StartsWith("2 ", StringComparison.Ordinal)));
    }
}
