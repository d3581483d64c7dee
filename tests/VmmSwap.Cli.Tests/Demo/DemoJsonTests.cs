using System.Text.Json.Nodes;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary>
/// A real run (memfds, userfaultfd, the actor runtime, an O_TMPFILE swap file) at 16 MiB, checked
/// through its JSON report: phases, verdict, and the page accounting the runtime reports.
/// </summary>
public sealed class DemoJsonTests(DemoJsonFixture fixture) : IClassFixture<DemoJsonFixture>
{
    private const long GuestPages = 16L * 1024 * 1024 / 4096;

    private JsonNode Report => fixture.Report;

    [Fact]
    public void Exits_zero_with_only_the_json_document_on_stdout_and_nothing_on_stderr()
    {
        Assert.True(fixture.Run.ExitCode == 0, $"exit {fixture.Run.ExitCode}; stderr: {fixture.Run.Stderr}; stdout: {fixture.Run.Stdout}");
        Assert.Equal(string.Empty, fixture.Run.Stderr);
        Assert.Equal(0, Report["exit_code"]!.GetValue<int>());
        Assert.StartsWith("{", fixture.Run.Stdout.TrimStart(), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_phase_runs_in_order()
    {
        var names = Report["phases"]!.AsArray().Select(p => p!["name"]!.GetValue<string>());
        Assert.Equal(["fill", "enable", "guest-run", "trim", "swap-out", "guest-idle", "disable", "verify"], names);
        Assert.Null(Report["interrupted"]);
        Assert.Null(Report["interrupted_by"]);
        Assert.Null(Report["error"]);
    }

    [Fact]
    public void Integrity_holds()
    {
        var integrity = Report["integrity"]!;
        Assert.True(integrity["ok"]!.GetValue<bool>(), $"integrity: {integrity.ToJsonString()}; error: {Report["error"]?.ToJsonString()}");
        Assert.True(integrity["verified"]!.GetValue<bool>());
        Assert.Equal(0, integrity["mismatched_count"]!.GetValue<int>());
        Assert.Empty(integrity["mismatched_pages"]!.AsArray());
        Assert.Empty(integrity["read_mismatches"]!.AsArray());
        Assert.Equal(0, integrity["stuck_vcpus"]!.GetValue<int>());
    }

    [Fact]
    public void Each_phase_has_pages_time_rate_and_a_crosvm_shaped_status()
    {
        foreach (var phase in Report["phases"]!.AsArray())
        {
            Assert.True(phase!["ms"]!.GetValue<double>() > 0);
            Assert.True(phase["pages"]!.GetValue<long>() >= 0);
            var status = phase["status"]!;
            Assert.NotNull(status["state"]);
            foreach (var key in new[] { "resident_pages", "copied_from_file_pages", "copied_from_staging_pages", "zeroed_pages", "redundant_pages", "staging_pages", "swap_pages" })
            {
                Assert.NotNull(status["metrics"]![key]);
            }

            Assert.NotNull(status["state_transition"]!["pages"]);
            Assert.NotNull(status["state_transition"]!["time_ms"]);
            var isGuestRun = phase["name"]!.GetValue<string>().StartsWith("guest-", StringComparison.Ordinal);
            Assert.Equal(isGuestRun, phase["mb_per_s"] is null);
        }

        Assert.Equal(
            ["Ready", "Pending", "Pending", "Pending", "Active", "Active", "Ready", "Ready"],
            Report["phases"]!.AsArray().Select(p => p!["status"]!["state"]!.GetValue<string>()));
    }

    [Fact]
    public void Enable_stages_every_written_page()
    {
        var enable = Phase("enable");
        Assert.Equal(GuestPages, Pages(enable));
        Assert.Equal(GuestPages, Transition(enable));
        Assert.Equal(GuestPages, Metric(enable, "staging_pages"));
        Assert.Equal(0, Metric(enable, "resident_pages"));
    }

    [Fact]
    public void Pages_moved_to_staging_are_all_accounted_for_after_swap_out()
    {
        // Every page Enable staged is, after swap-out, in exactly one place: in the swap file, still
        // in staging, dropped by trim (zero, or unchanged on disk), or faulted back into the guest
        // from staging by the first guest run. The guest is paused during trim and swap-out.
        var staged = Transition(Phase("enable"));
        var swapOut = Phase("swap-out");
        var trimmed = Transition(Phase("trim"));
        Assert.Equal(
            staged,
            Metric(swapOut, "swap_pages") + Metric(swapOut, "staging_pages") + trimmed + Metric(swapOut, "copied_from_staging_pages"));
        Assert.Equal(0, Metric(swapOut, "staging_pages"));
        Assert.Equal(Transition(swapOut), Metric(swapOut, "swap_pages"));
        Assert.Equal(Pages(swapOut), Transition(swapOut));
    }

    [Fact]
    public void The_first_guest_run_faults_only_from_staging_one_fault_per_first_touch()
    {
        var run = Phase("guest-run");
        Assert.True(Pages(run) > 0);
        Assert.Equal(Pages(run), Metric(run, "copied_from_staging_pages"));
        Assert.Equal(Pages(run), Metric(run, "resident_pages"));
        Assert.Equal(0, Metric(run, "copied_from_file_pages"));
        Assert.Equal(0, Metric(run, "zeroed_pages"));
        Assert.Equal(GuestPages - Pages(run), Metric(run, "staging_pages"));
    }

    [Fact]
    public void Trim_drops_the_zero_pages_still_in_staging()
    {
        var zeroPages = Report["guest"]!["page_kinds"]!["zero"]!.GetValue<long>();
        var trimmed = Transition(Phase("trim"));
        var faultedBeforeTrim = Pages(Phase("guest-run"));

        // No page was ever written to the file yet, so no page is "clean": only zero pages go, all
        // of them but those the guest faulted in (and may have written) before the trim.
        Assert.InRange(trimmed, zeroPages - faultedBeforeTrim, zeroPages);
        Assert.Equal(Metric(Phase("guest-run"), "staging_pages") - trimmed, Metric(Phase("trim"), "staging_pages"));
    }

    [Fact]
    public void The_idle_run_faults_from_the_swap_file_and_as_zero_pages()
    {
        var idle = Phase("guest-idle");
        var swapOut = Phase("swap-out");
        var fromFile = Metric(idle, "copied_from_file_pages");
        var zeroed = Metric(idle, "zeroed_pages");
        Assert.True(fromFile > 0, "no fault was served from the swap file");
        Assert.True(zeroed > 0, "no fault was served with a zero page");
        Assert.Equal(Pages(idle), fromFile + zeroed);
        Assert.Equal(Metric(swapOut, "swap_pages") - fromFile, Metric(idle, "swap_pages"));
        Assert.InRange(zeroed, 1, Transition(Phase("trim")));
        Assert.Equal(Metric(swapOut, "copied_from_staging_pages"), Metric(idle, "copied_from_staging_pages"));
    }

    [Fact]
    public void Disable_brings_back_everything_outside_the_guest_and_resets_the_metrics()
    {
        var idle = Phase("guest-idle");
        var disable = Phase("disable");
        Assert.Equal(Metric(idle, "swap_pages") + Metric(idle, "staging_pages"), Transition(disable));
        Assert.Equal(Transition(disable), Pages(disable));
        foreach (var metric in disable["status"]!["metrics"]!.AsObject())
        {
            Assert.Equal(0, metric.Value!.GetValue<long>());
        }
    }

    [Fact]
    public void Fault_latency_covers_every_faulting_first_touch()
    {
        var runs = Report["guest_runs"]!.AsArray();
        Assert.Equal(["guest-run", "guest-idle"], runs.Select(r => r!["phase"]!.GetValue<string>()));
        foreach (var run in runs)
        {
            var latency = run!["fault_latency"]!;
            Assert.Equal(run["faults"]!.GetValue<long>(), latency["samples"]!.GetValue<long>());
            Assert.Equal(run["faults"]!.GetValue<long>(), Pages(Phase(run["phase"]!.GetValue<string>())));
            Assert.True(latency["p50_us"]!.GetValue<double>() > 0);
            Assert.True(latency["p99_us"]!.GetValue<double>() >= latency["p50_us"]!.GetValue<double>());
        }

        var all = Report["fault_latency"]!;
        Assert.Equal(runs.Sum(r => r!["faults"]!.GetValue<long>()), all["samples"]!.GetValue<long>());
    }

    [Fact]
    public void Host_memory_moves_from_guest_to_staging_to_the_swap_file()
    {
        var memory = Report["host_memory"]!;
        var beforeEnable = memory["before_enable"]!;
        var beforeSwapOut = memory["before_swap_out"]!;
        var afterSwapOut = memory["after_swap_out"]!;
        Assert.Equal(GuestPages * 4096, Bytes(beforeEnable, "guest_bytes"));
        Assert.Equal(0, Bytes(beforeEnable, "staging_bytes"));

        // Trim and swap-out run with the guest paused: what the guest holds is what it faulted in.
        Assert.Equal(Metric(Phase("trim"), "resident_pages") * 4096, Bytes(beforeSwapOut, "guest_bytes"));
        Assert.Equal(Metric(Phase("swap-out"), "resident_pages") * 4096, Bytes(afterSwapOut, "guest_bytes"));

        // Staging holds its pages, plus at most the pages faulted out of it whose memory the
        // runtime frees lazily (in runs, at background priority) and may not have freed yet.
        var lazilyFreed = Pages(Phase("guest-run")) * 4096;
        Assert.InRange(Bytes(beforeSwapOut, "staging_bytes"), Metric(Phase("trim"), "staging_pages") * 4096, (Metric(Phase("trim"), "staging_pages") * 4096) + lazilyFreed);
        Assert.InRange(Bytes(afterSwapOut, "staging_bytes"), 0, lazilyFreed);
        Assert.InRange(Bytes(afterSwapOut, "swap_page_cache_bytes"), 0, Metric(Phase("swap-out"), "swap_pages") * 4096);
        Assert.True(Bytes(afterSwapOut, "guest_bytes") + Bytes(afterSwapOut, "staging_bytes") < Bytes(beforeEnable, "total_bytes") / 4);
    }

    private JsonNode Phase(string name) =>
        Report["phases"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!;

    private static long Pages(JsonNode phase) => phase["pages"]!.GetValue<long>();

    private static long Transition(JsonNode phase) => phase["status"]!["state_transition"]!["pages"]!.GetValue<long>();

    private static long Metric(JsonNode phase, string name) => phase["status"]!["metrics"]![name]!.GetValue<long>();

    private static long Bytes(JsonNode snapshot, string name) => snapshot[name]!.GetValue<long>();
}
