using System.Text.Json;
using VmmSwap.Actors.Hosting;
using VmmSwap.Cli.Bench;

namespace VmmSwap.Cli.Tests.Bench;

/// <summary>The bench at its smallest size: the report must be complete. Timings are never asserted.</summary>
public sealed class BenchSmokeTests
{
    [Fact]
    public async Task Bench_at_the_smallest_size_reports_every_section()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var command = BenchCommand.Create(stdout, stderr);

        var exit = await command.Parse(["--sizes", "64", "--rounds", "1", "--json"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });

        Assert.True(exit == BenchCommand.ExitOk, $"exit {exit}: {stderr}");
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;

        Assert.True(root.GetProperty("native_ref").GetProperty("built").GetBoolean());
        Assert.True(root.GetProperty("machine").GetProperty("nproc").GetInt32() > 0);
        Assert.NotEmpty(root.GetProperty("notes").EnumerateArray());

        Assert.Equal(FaultPollMax.Microseconds(new VmmSwapOptions().FaultPollMax), root.GetProperty("fault_poll_max_us").GetInt64());

        var result = Assert.Single(root.GetProperty("results").EnumerateArray());
        Assert.Equal(64, result.GetProperty("size_mib").GetInt32());

        var cpu = result.GetProperty("fault_thread_cpu");
        Assert.True(cpu.GetProperty("faulting_ms_per_s").GetDouble() >= 0);
        Assert.True(cpu.GetProperty("idle_ms_per_s").GetDouble() >= 0);

        var faults = result.GetProperty("faults").EnumerateArray().ToList();
        Assert.Equal(6, faults.Count);
        foreach (var fault in faults)
        {
            foreach (var side in new[] { "ours", "native" })
            {
                var latency = fault.GetProperty(side);
                Assert.True(latency.GetProperty("faults").GetInt64() > 0, $"{fault} {side}");
                Assert.True(latency.GetProperty("p50_us").GetDouble() > 0, $"{fault} {side}");
                Assert.True(latency.GetProperty("p99_us").GetDouble() > 0, $"{fault} {side}");
                Assert.True(latency.GetProperty("max_us").GetDouble() > 0, $"{fault} {side}");
            }

            Assert.True(fault.GetProperty("p50_ratio").GetDouble() > 0);
            Assert.True(fault.GetProperty("p99_ratio").GetDouble() > 0);
        }

        foreach (var section in new[] { "enable", "swap_out", "swap_in" })
        {
            var t = result.GetProperty(section);
            Assert.True(t.GetProperty("ours_gib_per_s").GetDouble() > 0, section);
            Assert.True(t.GetProperty("native_gib_per_s").GetDouble() > 0, section);
            Assert.True(t.GetProperty("ratio").GetDouble() > 0, section);
        }

        var swapOut = result.GetProperty("swap_out");
        Assert.True(swapOut.GetProperty("native_flushed_gib_per_s").GetDouble() > 0);
        Assert.True(swapOut.GetProperty("flushed_ratio").GetDouble() > 0);

        // The working-set case: the sequential swap-in's touches fault (it walks the file from the
        // start, the working set is spread over the guest); every case took some time.
        var workingSet = result.GetProperty("working_set");
        Assert.True(workingSet.GetProperty("working_set_pages").GetInt64() > 0);
        foreach (var side in new[] { "never_swapped", "sequential", "working_set_first", "prefetched" })
        {
            Assert.True(workingSet.GetProperty(side).GetProperty("touch_ms").GetDouble() > 0, side);
        }

        Assert.True(workingSet.GetProperty("sequential").GetProperty("faults").GetInt64() > 0);
        Assert.True(workingSet.TryGetProperty("faults_cut", out _));

        var trim = result.GetProperty("trim");
        Assert.True(trim.GetProperty("pages_per_s").GetDouble() > 0);
        Assert.True(trim.GetProperty("staged_pages").GetInt64() > 0);
        Assert.True(trim.GetProperty("dropped_pages").GetInt64() > 0);

        var jobs = result.GetProperty("during_jobs");
        foreach (var idle in new[] { "idle_staging", "idle_file" })
        {
            Assert.True(jobs.GetProperty(idle).GetProperty("p99_us").GetDouble() > 0, idle);
        }

        foreach (var job in new[] { "trim", "swap_out", "swap_in" })
        {
            Assert.True(jobs.GetProperty(job).GetProperty("during").GetProperty("faults").GetInt64() > 0, job);
            Assert.True(jobs.GetProperty(job).GetProperty("p99_vs_idle").GetDouble() > 0, job);
        }

        var memory = result.GetProperty("memory");
        Assert.True(memory.GetProperty("host_before_bytes").GetInt64() > 0);
        Assert.True(memory.GetProperty("vm_rss_before_bytes").GetInt64() > 0);
        Assert.True(memory.GetProperty("host_released_fraction").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Number, memory.GetProperty("heap_bytes_per_gib").ValueKind);
        Assert.Equal(JsonValueKind.Number, memory.GetProperty("rss_anon_bytes_per_gib").ValueKind);

        var limits = Assert.Single(root.GetProperty("limits").EnumerateArray());
        foreach (var job in new[] { "enable", "swap_out", "swap_in" })
        {
            Assert.True(limits.GetProperty(job).GetProperty("limit_gib_per_s").GetDouble() > 0, job);
            Assert.True(limits.GetProperty(job).GetProperty("ratio").GetDouble() > 0, job);
        }

        Assert.True(limits.GetProperty("disk_read_gib_per_s").GetDouble() > 0);

        AssertMultiThreadSection(root, 64);

        Assert.NotEmpty(root.GetProperty("growth").EnumerateArray());
        var targets = root.GetProperty("targets").EnumerateArray().ToList();
        Assert.NotEmpty(targets);
        Assert.All(targets, t => Assert.True(t.GetProperty("met").ValueKind is JsonValueKind.True or JsonValueKind.False));
        Assert.Contains(targets, t => t.GetProperty("name").GetString() == "idle fault thread CPU ms/s");
        Assert.Contains(targets, t => t.GetProperty("name").GetString()!.StartsWith("enable / limit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bench_only_multi_thread_faults_reports_that_section_and_its_targets_alone()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BenchCommand.Create(stdout, stderr).Parse(["--sizes", "32", "--rounds", "1", "--json", "--only", "multi-thread-faults"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });

        Assert.True(exit == BenchCommand.ExitOk, $"exit {exit}: {stderr}");
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;
        Assert.Empty(root.GetProperty("results").EnumerateArray());
        Assert.Empty(root.GetProperty("growth").EnumerateArray());
        AssertMultiThreadSection(root, 32);
        var targets = root.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.Equal(8, targets.Count);
        Assert.All(targets, name => Assert.StartsWith("multi-thread file fault ", name, StringComparison.Ordinal));
        Assert.Contains("multi-thread file fault random p99 / native one uffd, 4 threads", targets);
        Assert.Contains("multi-thread file fault random p99 / native uffd per thread, 2 threads", targets);
    }

    [Fact]
    public async Task Bench_refuses_an_unknown_only()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BenchCommand.Create(stdout, stderr).Parse(["--only", "trim"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(BenchCommand.ExitBadInput, exit);
        Assert.Contains("--only must be multi-thread-faults, got 'trim'", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_refuses_a_bad_size()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BenchCommand.Create(stdout, stderr).Parse(["--sizes", "abc"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(BenchCommand.ExitBadInput, exit);
        Assert.Contains("--sizes", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--fault-read-pages", "65", "--fault-read-pages must be 0 to 64, got 65")]
    [InlineData("--fault-reads", "disk", "--fault-reads must be io-uring or readers, got 'disk'")]
    public async Task Bench_refuses_runtime_settings_the_runtime_would_refuse_naming_the_value(string option, string value, string message)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BenchCommand.Create(stdout, stderr).Parse([option, value]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(BenchCommand.ExitBadInput, exit);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
    }

    private static void AssertMultiThreadSection(JsonElement root, int sizeMib)
    {
        var multi = Assert.Single(root.GetProperty("multi_thread_faults").EnumerateArray());
        Assert.Equal(sizeMib, multi.GetProperty("size_mib").GetInt32());
        var cases = multi.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal(
            ["1/seq", "1/random", "2/seq", "2/random", "4/seq", "4/random"],
            cases.Select(c => $"{c.GetProperty("threads").GetInt32()}/{c.GetProperty("order").GetString()}").ToList());
        foreach (var c in cases)
        {
            var pages = c.GetProperty("pages").GetInt64();
            Assert.True(pages > 0, c.ToString());
            Assert.Equal(0, pages % c.GetProperty("threads").GetInt32());
            foreach (var side in new[] { "ours", "native_one_uffd", "native_uffd_per_thread" })
            {
                var burst = c.GetProperty(side);
                Assert.True(burst.GetProperty("faults").GetInt64() == pages, $"{c} {side}");
                Assert.True(burst.GetProperty("p99_us").GetDouble() > 0, $"{c} {side}");
                Assert.True(burst.GetProperty("seconds").GetDouble() > 0, $"{c} {side}");
                Assert.True(burst.GetProperty("pages_per_s").GetDouble() > 0, $"{c} {side}");
            }

            foreach (var ratio in new[] { "p50_vs_one_uffd", "p99_vs_one_uffd", "p50_vs_uffd_per_thread", "p99_vs_uffd_per_thread" })
            {
                Assert.True(c.GetProperty(ratio).GetDouble() > 0, $"{c} {ratio}");
            }
        }
    }
}
