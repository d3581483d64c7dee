using System.Text.Json;
using System.Text.Json.Nodes;
using VmmSwap.Actors;

namespace VmmSwap.Cli.Soak;

/// <summary>What a soak did and found; printed as text or as one JSON document with the same content.</summary>
public sealed class SoakReport
{
    /// <summary>Losses, hangs and errors listed in full; beyond these only counted.</summary>
    public const int Listed = 32;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Assembles the report.</summary>
    public SoakReport(SoakOptions options, long pages, int cycles, TimeSpan elapsed, bool interrupted, SoakCounters counters, (string Method, bool Available) swapDirFull, string throttledDisk, ResourceSample? early, ResourceSample? end)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        Counters = counters ?? throw new ArgumentNullException(nameof(counters));
        Pages = pages;
        Cycles = cycles;
        Elapsed = elapsed;
        Interrupted = interrupted;
        Early = early;
        End = end;
        Leaks = early is not null && end is not null && end.Cycle > early.Cycle ? LeakCheck.Compare(early, end, options.GuestBytes) : [];
        Faults =
        [
            Fault(FaultKind.SwapDirFull, swapDirFull.Method, swapDirFull.Available),
            Fault(FaultKind.ChildKilledWhileFaulting, "SIGKILL of the second process the moment its reader is seen in handle_userfault (/proc/<pid>/task/<tid>/wchan), after an Enable or a swap-out", true),
            Fault(FaultKind.ThrottledDisk, throttledDisk, false),
        ];
    }

    /// <summary>The options run with.</summary>
    public SoakOptions Options { get; }

    /// <summary>Everything counted.</summary>
    public SoakCounters Counters { get; }

    /// <summary>Guest pages.</summary>
    public long Pages { get; }

    /// <summary>Cycles run (each ended by a Disable back to Ready, unless an error says otherwise).</summary>
    public int Cycles { get; }

    /// <summary>Time the soak ran.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>True when Ctrl-C stopped it early.</summary>
    public bool Interrupted { get; }

    /// <summary>Resources after the first cycle.</summary>
    public ResourceSample? Early { get; }

    /// <summary>Resources at the end.</summary>
    public ResourceSample? End { get; }

    /// <summary>Resources that grew beyond their tolerance.</summary>
    public IReadOnlyList<Leak> Leaks { get; }

    /// <summary>The injected faults.</summary>
    public IReadOnlyList<InjectedFault> Faults { get; }

    /// <summary>Pages checked, by everyone.</summary>
    public long PagesChecked => Enum.GetValues<CheckedBy>().Sum(Counters.Checked);

    /// <summary>The exit code: the first of lost, hang, leak, incomplete that applies, else 0.</summary>
    public int ExitCode =>
        Counters.LostPages > 0 ? SoakExitCodes.Lost
        : Counters.Hangs.Count > 0 ? SoakExitCodes.Hang
        : Leaks.Count > 0 ? SoakExitCodes.Leak
        : Interrupted || Counters.Errors.Count > 0 ? SoakExitCodes.Incomplete
        : SoakExitCodes.Ok;

    /// <summary>The report as one indented JSON document.</summary>
    public string ToJson() => new JsonObject
    {
        ["options"] = new JsonObject
        {
            ["guest_mib"] = Options.GuestMib,
            ["pages"] = Pages,
            ["guest_threads"] = Options.GuestThreads,
            ["command_threads"] = Options.CommandThreads,
            ["seed"] = Options.Seed,
            ["cycles_asked"] = Options.Minutes is null ? Options.Cycles ?? SoakOptions.DefaultCycles : null,
            ["minutes_asked"] = Options.Minutes,
        },
        ["cycles"] = Cycles,
        ["elapsed_s"] = Math.Round(Elapsed.TotalSeconds, 1),
        ["interrupted"] = Interrupted,
        ["commands"] = new JsonObject(Enum.GetValues<CommandKind>().Select(k => KeyValuePair.Create(Snake(k), (JsonNode?)new JsonObject(
            Enum.GetValues<CommandResult>().Select(r => KeyValuePair.Create(Snake(r), (JsonNode?)Counters.Commands(k, r))))))),
        ["command_failures"] = new JsonArray([.. Counters.Failures.Take(Listed).Select(f => (JsonNode)new JsonObject { ["command"] = Snake(f.Kind), ["reason"] = f.Reason, ["count"] = f.Count })]),
        ["guest"] = new JsonObject { ["reads"] = Counters.Reads, ["writes"] = Counters.Writes, ["removes"] = Counters.Removes },
        ["pages_checked"] = new JsonObject(Enum.GetValues<CheckedBy>().Select(b => KeyValuePair.Create(Snake(b), (JsonNode?)Counters.Checked(b))).Append(KeyValuePair.Create("total", (JsonNode?)PagesChecked))),
        ["pages_lost"] = Counters.LostPages,
        ["pages_lost_first_found_by"] = new JsonObject(Enum.GetValues<CheckedBy>().Select(b => KeyValuePair.Create(Snake(b), (JsonNode?)Counters.LostFirstBy(b)))),
        ["pages_lost_read_only"] = Counters.LostReadOnly,
        ["loss_events"] = Counters.LossEvents,
        ["lost"] = new JsonArray([.. Counters.Lost.Take(Listed).Select(l => (JsonNode)new JsonObject
        {
            ["page"] = l.Page,
            ["found_by"] = Snake(l.FoundBy),
            ["cycle"] = l.Cycle,
            ["expected_version"] = l.ExpectedVersion,
            ["expected_zeros"] = l.ExpectedZeros,
            ["observed"] = Snake(l.Observed),
            ["observed_version"] = l.ObservedVersion,
        })]),
        ["second_process"] = new JsonObject
        {
            ["attached"] = Attaches(accepted: true),
            ["refused"] = Attaches(accepted: false),
            ["by_state"] = new JsonObject(Enum.GetValues<SwapState>().Select(s => KeyValuePair.Create(s.ToString(), (JsonNode?)new JsonObject
            {
                ["attached"] = Counters.Attaches.GetValueOrDefault((true, s)),
                ["refused"] = Counters.Attaches.GetValueOrDefault((false, s)),
            }))),
            ["exited"] = Counters.Exited,
            ["killed"] = Counters.Killed,
        },
        ["faults"] = new JsonArray([.. Faults.Select(f => (JsonNode)new JsonObject
        {
            ["kind"] = Snake(f.Kind),
            ["available"] = f.Available,
            ["method"] = f.Method,
            ["injected"] = f.Injected,
            ["took_effect"] = f.TookEffect,
            ["survived"] = f.Survived,
        })]),
        ["leaks"] = new JsonObject
        {
            ["early"] = Sample(Early),
            ["end"] = Sample(End),
            ["tolerance"] = Tolerance(),
            ["fd_kinds_grown"] = Early is not null && End is not null ? LeakCheck.FdKindsGrown(Early, End) : null,
            ["leaked"] = new JsonArray([.. Leaks.Select(l => (JsonNode)new JsonObject { ["resource"] = l.Resource, ["early"] = l.Early, ["end"] = l.End, ["tolerance"] = l.Tolerance, ["grown"] = l.Grown })]),
        },
        ["hangs"] = new JsonArray([.. Counters.Hangs.Take(Listed).Select(h => (JsonNode)new JsonObject { ["kind"] = Snake(h.Kind), ["what"] = h.What, ["cycle"] = h.Cycle, ["deadline_s"] = h.Seconds })]),
        ["errors"] = new JsonArray([.. Counters.Errors.Take(Listed).Select(e => (JsonNode)new JsonObject { ["kind"] = Snake(e.Kind), ["message"] = e.Message, ["cycle"] = e.Cycle })]),
        ["exit_code"] = ExitCode,
    }.ToJsonString(Indented);

    /// <summary>Attaches accepted (or refused) in any state.</summary>
    public long Attaches(bool accepted) => Counters.Attaches.Where(a => a.Key.Accepted == accepted).Sum(a => a.Value);

    /// <summary>The enum value as the JSON names it (snake_case).</summary>
    public static string Snake<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    private InjectedFault Fault(FaultKind kind, string method, bool available)
    {
        var (injected, tookEffect, survived) = Counters.Fault(kind);
        return new InjectedFault(kind, method, available, injected, tookEffect, survived);
    }

    private JsonObject Tolerance()
    {
        var (fds, rss, heap) = LeakCheck.Tolerances(Options.GuestBytes);
        return new JsonObject { ["open_fds"] = fds, ["vm_rss_bytes"] = rss, ["managed_heap_bytes"] = heap };
    }

    private static JsonObject? Sample(ResourceSample? s) => s is null ? null : new JsonObject
    {
        ["cycle"] = s.Cycle,
        ["open_fds"] = s.OpenFds,
        ["vm_rss_bytes"] = s.VmRssBytes,
        ["managed_heap_bytes"] = s.ManagedHeapBytes,
    };
}
