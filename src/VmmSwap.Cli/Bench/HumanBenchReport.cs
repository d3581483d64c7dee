using System.Globalization;
using Spectre.Console;

namespace VmmSwap.Cli.Bench;

/// <summary>The bench report as tables.</summary>
internal static class HumanBenchReport
{
    internal static void Write(BenchReport report, TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
        });

        // Redirected output has no terminal width; the wide tables are unreadable wrapped at 80.
        console.Profile.Width = Math.Max(console.Profile.Width, 180);
        var m = report.Machine;
        console.MarkupLine(Markup.Escape($"vmm-swap bench: {m.Nproc} CPUs ({m.Cpu}), {m.MemoryBytes / (1L << 30)} GiB, kernel {m.Kernel}; sizes {string.Join(", ", report.SizesMib)} MiB, {report.Rounds} round(s), medians; swap dir {report.SwapDir}; fault-poll-max {report.FaultPollMaxUs} us{(report.FaultPollMaxUs == 0 ? " (polling off)" : string.Empty)}"));
        console.MarkupLine(Markup.Escape($"native reference: {report.NativeRef.Source} built with {report.NativeRef.Compiler}"));

        // A bench run with --only leaves the other sections without rows.
        void Show(Table table)
        {
            if (table.Rows.Count > 0)
            {
                console.Write(table);
            }
        }

        var faults = new Table().Title("Fault latency, us (ours / native_ref)");
        faults.AddColumns("size MiB", "source", "order", "faults", "p50 ours", "p50 native", "p50 ratio", "p99 ours", "p99 native", "p99 ratio", "max ours", "max native");
        foreach (var r in report.Results)
        {
            foreach (var f in r.Faults)
            {
                faults.AddRow(I(r.SizeMib), f.Source, f.Order, I(f.Ours.Faults), F(f.Ours.P50Us), F(f.Native.P50Us), X(f.P50Ratio), F(f.Ours.P99Us), F(f.Native.P99Us), X(f.P99Ratio), F(f.Ours.MaxUs), F(f.Native.MaxUs));
            }
        }

        Show(faults);

        var cpu = new Table().Title("Fault thread CPU per second of guest time");
        cpu.AddColumns("size MiB", "fault-poll-max us", "faulting ms/s", $"idle {BenchOptions.IdleGuest.TotalSeconds:0} s, ms/s");
        foreach (var r in report.Results)
        {
            cpu.AddRow(I(r.SizeMib), I(report.FaultPollMaxUs), F(r.FaultThreadCpu.FaultingMsPerS), F(r.FaultThreadCpu.IdleMsPerS));
        }

        Show(cpu);

        var multi = new Table().Title("File faults from several guest threads at once, us (ours / native_ref; n1: one uffd and handler thread, nN: one per guest thread)");
        multi.AddColumns("size MiB", "threads", "order", "faults", "p50 ours", "p50 n1", "ratio", "p50 nN", "ratio", "p99 ours", "p99 n1", "ratio", "p99 nN", "ratio", "pages/s ours", "n1", "nN");
        foreach (var r in report.MultiThreadFaults)
        {
            foreach (var c in r.Cases)
            {
                multi.AddRow(I(r.SizeMib), I(c.Threads), c.Order, I(c.Ours.Faults), F(c.Ours.P50Us), F(c.NativeOneUffd.P50Us), X(c.P50VsOneUffd), F(c.NativeUffdPerThread.P50Us), X(c.P50VsUffdPerThread), F(c.Ours.P99Us), F(c.NativeOneUffd.P99Us), X(c.P99VsOneUffd), F(c.NativeUffdPerThread.P99Us), X(c.P99VsUffdPerThread), I((long)c.Ours.PagesPerS), I((long)c.NativeOneUffd.PagesPerS), I((long)c.NativeUffdPerThread.PagesPerS));
            }
        }

        Show(multi);

        var throughput = new Table().Title("Throughput (ours / native_ref)");
        throughput.AddColumns("size MiB", "enable GiB/s", "native", "ratio", "swap-out GiB/s", "pwrite", "ratio", "pwrite+flush", "ratio", "swap-in GiB/s", "native", "ratio", "trim pages/s", "trimmed / staged");
        foreach (var r in report.Results)
        {
            throughput.AddRow(I(r.SizeMib), F(r.Enable.OursGibPerS), F(r.Enable.NativeGibPerS), X(r.Enable.Ratio), F(r.SwapOut.OursGibPerS), F(r.SwapOut.NativeGibPerS), X(r.SwapOut.Ratio), F(r.SwapOut.NativeFlushedGibPerS), X(r.SwapOut.FlushedRatio), F(r.SwapIn.OursGibPerS), F(r.SwapIn.NativeGibPerS), X(r.SwapIn.Ratio), I((long)r.Trim.PagesPerS), $"{I(r.Trim.DroppedPages)} / {I(r.Trim.StagedPages)}");
        }

        Show(throughput);

        var limits = new Table().Title("Limits: ours / the fastest this machine does the same move (GiB/s)");
        limits.AddColumns("size MiB", "enable", "limit", "ratio", $"{LimitReferences.PauseGuestMib / 1024} GiB pause ms", "swap-out", "limit", "ratio", "swap-in", "limit", "ratio", "disk pread", "swap-in / disk");
        foreach (var l in report.Limits)
        {
            limits.AddRow(I(l.SizeMib), F(l.Enable.OursGibPerS), F(l.Enable.LimitGibPerS), X(l.Enable.Ratio), F(l.EnablePauseMs), F(l.SwapOut.OursGibPerS), F(l.SwapOut.LimitGibPerS), X(l.SwapOut.Ratio), F(l.SwapIn.OursGibPerS), F(l.SwapIn.LimitGibPerS), X(l.SwapIn.Ratio), F(l.DiskReadGibPerS), X(l.SwapInVsDisk));
        }

        Show(limits);

        var jobs = new Table().Title("Fault p99 during jobs (random order), us");
        jobs.AddColumns("size MiB", "job guest MiB", "idle staging", "trim", "ratio", "swap-out", "ratio", "idle file", "swap-in", "ratio", "faults trim/out/in");
        foreach (var r in report.Results)
        {
            var d = r.DuringJobs;
            jobs.AddRow(I(r.SizeMib), I(d.GuestMib), F(d.IdleStaging.P99Us), F(d.Trim.During.P99Us), X(d.Trim.P99VsIdle), F(d.SwapOut.During.P99Us), X(d.SwapOut.P99VsIdle), F(d.IdleFile.P99Us), F(d.SwapIn.During.P99Us), X(d.SwapIn.P99VsIdle), $"{d.Trim.During.Faults}/{d.SwapOut.During.Faults}/{d.SwapIn.During.Faults}");
        }

        Show(jobs);

        var workingSet = new Table().Title("Working set after Disable: touch time ms / touches that faulted");
        workingSet.AddColumns("size MiB", "guest MiB", "working set pages", "never swapped", "sequential swap-in", "working set first", "faults cut", "touch / never", "prefetched", "faults cut", "touch / never", "prefetch ms");
        foreach (var r in report.Results)
        {
            var w = r.WorkingSet;
            workingSet.AddRow(I(r.SizeMib), I(w.GuestMib), I(w.WorkingSetPages), $"{F(w.NeverSwapped.TouchMs)} / {I(w.NeverSwapped.Faults)}", $"{F(w.Sequential.TouchMs)} / {I(w.Sequential.Faults)}", $"{F(w.WorkingSetFirst.TouchMs)} / {I(w.WorkingSetFirst.Faults)}", w.FaultsCut.ToString("P0", CultureInfo.InvariantCulture), X(w.TouchVsNeverSwapped), $"{F(w.Prefetched.TouchMs)} / {I(w.Prefetched.Faults)}", w.PrefetchedFaultsCut.ToString("P0", CultureInfo.InvariantCulture), X(w.PrefetchedTouchVsNeverSwapped), F(w.PrefetchMs));
        }

        Show(workingSet);

        var memory = new Table().Title("Memory");
        memory.AddColumns("size MiB", "heap KiB/GiB", "RssAnon KiB/GiB", "VmRSS before MiB", "VmRSS active MiB", "host before MiB", "host active MiB", "released", "swap page cache MiB");
        foreach (var r in report.Results)
        {
            var mem = r.Memory;
            memory.AddRow(I(r.SizeMib), F(mem.HeapBytesPerGib / 1024), F(mem.RssAnonBytesPerGib / 1024), Mib(mem.VmRssBeforeBytes), Mib(mem.VmRssActiveBytes), Mib(mem.HostBeforeBytes), Mib(mem.HostActiveBytes), mem.HostReleasedFraction.ToString("P1", CultureInfo.InvariantCulture), Mib(mem.SwapPageCacheBytes));
        }

        Show(memory);

        var growth = new Table().Title($"Growth from {report.SizesMib[0]} to {report.SizesMib[^1]} MiB");
        growth.AddColumns("figure", "smallest", "largest", "largest / smallest");
        foreach (var g in report.Growth)
        {
            growth.AddRow(g.Figure, F(g.Smallest), F(g.Largest), X(g.Ratio));
        }

        Show(growth);

        var targets = new Table().Title("Targets (reported, not asserted)");
        targets.AddColumns("target", "want", "size MiB", "value", "verdict");
        foreach (var t in report.Targets)
        {
            targets.AddRow(Markup.Escape(t.Name), Markup.Escape(t.Target), I(t.SizeMib), F(t.Value), t.Met ? "[green]met[/]" : "[red]missed[/]");
        }

        console.Write(targets);
        foreach (var note in report.Notes)
        {
            console.MarkupLine(Markup.Escape($"note: {note}"));
        }
    }

    private static string I(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string F(double value) => value.ToString(value >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture);

    private static string X(double ratio) => ratio.ToString("F2", CultureInfo.InvariantCulture) + "x";

    private static string Mib(long bytes) => (bytes / (double)(1 << 20)).ToString("F1", CultureInfo.InvariantCulture);
}
