using System.Globalization;
using VmmSwap.Actors;

namespace VmmSwap.Cli.Soak;

/// <summary>The soak's report as text: the same content as the JSON, one fact a line.</summary>
public static class HumanSoakReport
{
    /// <summary>Writes <paramref name="report"/> to <paramref name="output"/>.</summary>
    public static void Write(SoakReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        var c = report.Counters;
        var o = report.Options;
        Line(output, $"vmm-swap soak: {o.GuestMib} MiB guest ({report.Pages} pages), {o.GuestThreads} guest threads, {o.CommandThreads} command threads, seed {o.Seed}");
        Line(output, $"cycles: {report.Cycles} in {report.Elapsed.TotalSeconds:F1} s{(report.Interrupted ? " (interrupted)" : string.Empty)}");
        Line(output, "commands sent:");
        foreach (var kind in Enum.GetValues<CommandKind>())
        {
            var results = Enum.GetValues<CommandResult>().Where(r => c.Commands(kind, r) > 0).Select(r => $"{SoakReport.Snake(r)} {c.Commands(kind, r)}");
            Line(output, $"  {SoakReport.Snake(kind),-15} {string.Join(", ", results.DefaultIfEmpty("none"))}");
        }

        foreach (var (kind, reason, count) in c.Failures.Take(SoakReport.Listed))
        {
            Line(output, $"  failed {SoakReport.Snake(kind)} x{count}: {reason}");
        }

        Line(output, $"guest: {c.Reads} reads, {c.Writes} writes, {c.Removes} balloon removes");
        Line(output, $"pages checked: {report.PagesChecked} ({string.Join(", ", Enum.GetValues<CheckedBy>().Select(b => $"{SoakReport.Snake(b)} {c.Checked(b)}"))})");
        Line(output, $"pages lost: {c.LostPages}{(c.LostPages == 0 ? string.Empty : $" ({c.LostReadOnly} of them read-only; first found by {string.Join(", ", Enum.GetValues<CheckedBy>().Select(b => $"{SoakReport.Snake(b)} {c.LostFirstBy(b)}"))}; {c.LossEvents} findings in all)")}");
        foreach (var l in c.Lost.Take(SoakReport.Listed))
        {
            Line(output, $"  page {l.Page}: {SoakReport.Snake(l.FoundBy)} in cycle {l.Cycle} expected {(l.ExpectedZeros ? $"zeros (removed after version {l.ExpectedVersion})" : $"version {l.ExpectedVersion}")}, read {SoakReport.Snake(l.Observed)}{(l.ObservedVersion is { } v ? $" {v}" : string.Empty)}");
        }

        var byState = Enum.GetValues<SwapState>()
            .Select(s => (s, a: c.Attaches.GetValueOrDefault((true, s)), r: c.Attaches.GetValueOrDefault((false, s))))
            .Where(x => x.a + x.r > 0)
            .Select(x => $"{x.s} {x.a}/{x.r}");
        Line(output, $"second process: {report.Attaches(true)} attached, {report.Attaches(false)} refused (attached/refused by state: {string.Join(", ", byState.DefaultIfEmpty("none"))}); {c.Exited} exited, {c.Killed} killed");
        Line(output, "faults injected:");
        foreach (var f in report.Faults)
        {
            Line(output, f.Available
                ? $"  {SoakReport.Snake(f.Kind)}: injected {f.Injected}, took effect {f.TookEffect}, survived {f.Survived} ({f.Method})"
                : $"  {SoakReport.Snake(f.Kind)}: {f.Method}");
        }

        if (report.Early is { } early && report.End is { } end)
        {
            var (fds, rss, heap) = LeakCheck.Tolerances(o.GuestBytes);
            Line(output, $"resources after cycle {early.Cycle} -> cycle {end.Cycle}: open fds {early.OpenFds} -> {end.OpenFds} (tolerance +{fds}), VmRSS {Mib(early.VmRssBytes)} -> {Mib(end.VmRssBytes)} MiB (+{Mib(rss)}), managed heap {Mib(early.ManagedHeapBytes)} -> {Mib(end.ManagedHeapBytes)} MiB (+{Mib(heap)}){(LeakCheck.FdKindsGrown(early, end) is { Length: > 0 } grown ? $"; more descriptors of: {grown}" : string.Empty)}");
        }

        Line(output, $"leaks: {(report.Leaks.Count == 0 ? "none" : string.Join(", ", report.Leaks.Select(l => $"{l.Resource} {l.Early} -> {l.End} (tolerance +{l.Tolerance}{(l.Grown.Length > 0 ? $"; more of: {l.Grown}" : string.Empty)})")))}");
        Line(output, $"hangs: {(c.Hangs.Count == 0 ? "none" : c.Hangs.Count.ToString(CultureInfo.InvariantCulture))}");
        foreach (var h in c.Hangs.Take(SoakReport.Listed))
        {
            Line(output, $"  cycle {h.Cycle} {SoakReport.Snake(h.Kind)}: {h.What} (deadline {h.Seconds:F0} s)");
        }

        foreach (var e in c.Errors.Take(SoakReport.Listed))
        {
            Line(output, $"error in cycle {e.Cycle} ({SoakReport.Snake(e.Kind)}): {e.Message}");
        }

        Line(output, $"verdict: {Verdict(report.ExitCode)} (exit {report.ExitCode})");
    }

    private static string Verdict(int exitCode) => exitCode switch
    {
        SoakExitCodes.Ok => "nothing lost, nothing hung, nothing leaked",
        SoakExitCodes.Lost => "PAGES LOST",
        SoakExitCodes.Hang => "HANG",
        SoakExitCodes.Leak => "LEAK",
        _ => "incomplete",
    };

    private static string Mib(long bytes) => (bytes / (double)SoakOptions.MiB).ToString("F1", CultureInfo.InvariantCulture);

    private static void Line(TextWriter output, string text) => output.WriteLine(text);
}
