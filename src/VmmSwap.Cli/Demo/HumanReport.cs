using System.Globalization;
using Spectre.Console;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>The report for people: tables of phases, metrics, fault latency and host memory, and the verdict.</summary>
public static class HumanReport
{
    private static readonly string[] MetricPhases = [PhaseNames.Enable, PhaseNames.GuestRun, PhaseNames.Trim, PhaseNames.SwapOut, PhaseNames.GuestIdle, PhaseNames.Disable];

    /// <summary>
    /// A Spectre console writing to <paramref name="stdout"/>; colours and live redraws only when it
    /// is a terminal that supports them.
    /// </summary>
    public static IAnsiConsole CreateConsole(TextWriter stdout)
    {
        ArgumentNullException.ThrowIfNull(stdout);

        // Spectre guesses from the environment (TERM and friends), which says nothing about a file,
        // a pipe or a test's writer: only the process's own stdout on a terminal gets ANSI.
        var terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });

        // Off a terminal Spectre assumes 80 columns; the tables need a little more to stay one line per row.
        if (!terminal)
        {
            console.Profile.Width = 120;
        }

        return console;
    }

    /// <summary>Writes <paramref name="report"/> to <paramref name="console"/>.</summary>
    public static void Write(IAnsiConsole console, DemoReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        var o = report.Setup.Options;
        console.WriteLine();
        console.MarkupLine(Markup.Escape(string.Create(
            CultureInfo.InvariantCulture,
            $"guest: {o.GuestMib} MiB in {o.Regions} regions ({o.GuestPages:N0} pages of {PageSize.Bytes} B), {o.Vcpus} {(report.Setup.VcpuKind == VcpuKind.Kvm ? "KVM" : "thread")} vCPUs over {o.HotPages:N0} hot pages, swap dir {report.Setup.SwapDirectory}")));
        console.MarkupLine(Markup.Escape("pages: " + string.Join(", ", report.PageKinds.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k.Value:N0} {k.Key.ToString().ToLowerInvariant()}")))));
        console.Write(Phases(report));

        // A run interrupted early has no swap phases, guest runs or swap-time memory to show.
        if (Metrics(report) is { } metrics)
        {
            console.Write(metrics);
        }

        if (report.GuestRuns.Count > 0)
        {
            console.Write(Latency(report));
        }

        console.Write(Memory(report));
        if (report.InterruptedDuring is { } phase)
        {
            var swappedIn = report.Phase(PhaseNames.Disable) is null ? string.Empty : ", every page swapped back in";
            var by = report.InterruptedBy is { } signal ? $" by {signal}" : string.Empty;
            console.MarkupLine(Markup.Escape($"interrupted{by} during {phase}: guest stopped{swappedIn} and verified"));
        }

        if (report.RuntimeStopped)
        {
            console.MarkupLine(Markup.Escape("the vmm-swap runtime stopped during the run: a control client sent exit, which swaps every page back in first"));
        }

        if (report.Error is { } error)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(error)}");
        }

        console.MarkupLine(Verdict(report));
    }

    private static Table Phases(DemoReport report)
    {
        var table = new Table().Title("phases").AddColumn("phase").AddColumn(new TableColumn("pages").RightAligned())
            .AddColumn(new TableColumn("ms").RightAligned()).AddColumn(new TableColumn("MB/s").RightAligned()).AddColumn("state after");
        foreach (var p in report.Phases)
        {
            table.AddRow(
                p.Name,
                Number(p.Pages),
                p.Milliseconds.ToString("N1", CultureInfo.InvariantCulture),
                p.MbPerSecond is { } rate ? rate.ToString("N1", CultureInfo.InvariantCulture) : "-",
                p.Status?.State.ToString() ?? "-");
        }

        return table;
    }

    private static Table? Metrics(DemoReport report)
    {
        // One column per swap phase: how the pages moved between guest, staging and file.
        var phases = MetricPhases.Select(report.Phase).OfType<PhaseResult>().Where(p => p.Status is not null).ToList();
        if (phases.Count == 0)
        {
            return null;
        }

        var table = new Table().Title("runtime metrics after each phase").AddColumn("metric");
        foreach (var p in phases)
        {
            table.AddColumn(new TableColumn(p.Name).RightAligned());
        }

        void Row(string name, Func<Actors.SwapStatus, long> value) =>
            table.AddRow([name, .. phases.Select(p => Number(value(p.Status!)))]);

        table.AddRow(["state", .. phases.Select(p => p.Status!.State.ToString())]);
        Row("resident_pages", s => s.Metrics.ResidentPages);
        Row("copied_from_staging_pages", s => s.Metrics.CopiedFromStagingPages);
        Row("copied_from_file_pages", s => s.Metrics.CopiedFromFilePages);
        Row("zeroed_pages", s => s.Metrics.ZeroedPages);
        Row("redundant_pages", s => s.Metrics.RedundantPages);
        Row("staging_pages", s => s.Metrics.StagingPages);
        Row("swap_pages", s => s.Metrics.SwapPages);
        Row("state_transition.pages", s => s.StateTransition.Pages);
        Row("state_transition.time_ms", s => s.StateTransition.TimeMs);
        return table;
    }

    private static Table Latency(DemoReport report)
    {
        var title = report.Setup.VcpuKind == VcpuKind.Kvm
            ? "fault latency as the KVM guest timed it (rdtsc)"
            : "fault latency (first touch of a page by a vCPU)";
        var table = new Table().Title(title).AddColumn("run")
            .AddColumn(new TableColumn("faults").RightAligned()).AddColumn(new TableColumn("p50 us").RightAligned())
            .AddColumn(new TableColumn("p99 us").RightAligned()).AddColumn(new TableColumn("max us").RightAligned())
            .AddColumn(new TableColumn("accesses").RightAligned()).AddColumn(new TableColumn("writes").RightAligned());
        foreach (var (name, run) in report.GuestRuns)
        {
            table.AddRow(name, Number(run.Faults), Micro(run.Latency.P50Microseconds), Micro(run.Latency.P99Microseconds), Micro(run.Latency.MaxMicroseconds), Number(run.Accesses), Number(run.Writes));
        }

        var all = report.AllFaults;
        table.AddRow("all", Number(all.Samples), Micro(all.P50Microseconds), Micro(all.P99Microseconds), Micro(all.MaxMicroseconds), "", "");
        return table;
    }

    private static Table Memory(DemoReport report)
    {
        var points = new (string Name, HostMemorySnapshot? Snapshot)[]
        {
            ("before enable", report.BeforeEnable), ("before swap-out", report.BeforeSwapOut), ("after swap-out", report.AfterSwapOut),
        };
        var table = new Table().Title("host memory held for the guest (MiB)").AddColumn("");
        foreach (var (name, _) in points)
        {
            table.AddColumn(new TableColumn(name).RightAligned());
        }

        void Row(string name, Func<HostMemorySnapshot, long> bytes) =>
            table.AddRow([name, .. points.Select(p => p.Snapshot is null ? "-" : Mib(bytes(p.Snapshot)))]);

        Row("guest memfds", m => m.GuestBytes);
        Row("staging memfd", m => m.StagingBytes);
        Row("swap file page cache (reclaimable)", m => m.SwapPageCacheBytes);
        Row("total", m => m.TotalBytes);
        Row("total less page cache", m => m.GuestBytes + m.StagingBytes);
        return table;
    }

    private static string Verdict(DemoReport report)
    {
        if (report.IntegrityOk)
        {
            return "integrity: [green]ok[/]";
        }

        var parts = new List<string>();
        if (!report.Verified)
        {
            parts.Add("not verified");
        }

        if (report.MismatchedPages.Count > 0)
        {
            parts.Add($"{report.MismatchedPages.Count} pages differ, first: {string.Join(", ", report.MismatchedPages.Take(DemoReport.MismatchesListed))}");
        }

        if (report.ReadMismatches.Count > 0)
        {
            parts.Add($"{report.ReadMismatches.Count} pages read back wrong by vCPUs, first: {string.Join(", ", report.ReadMismatches.Take(DemoReport.MismatchesListed))}");
        }

        if (report.StuckVcpus > 0)
        {
            parts.Add($"{report.StuckVcpus} vCPUs stuck in a fault");
        }

        return $"integrity: [red]FAILED[/] ({Markup.Escape(string.Join("; ", parts))})";
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Micro(double value) => value.ToString("N1", CultureInfo.InvariantCulture);

    private static string Mib(long bytes) => (bytes / (double)DemoOptions.MiB).ToString("N1", CultureInfo.InvariantCulture);
}
