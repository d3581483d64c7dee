using System.Text.Json;
using System.Text.Json.Nodes;
using VmmSwap.Actors;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>Everything a demo run measured and concluded; printed as tables or as one JSON document.</summary>
public sealed class DemoReport
{
    /// <summary>Mismatched pages listed by number; beyond these only the count is given.</summary>
    public const int MismatchesListed = 32;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Creates an empty report for <paramref name="setup"/>.</summary>
    public DemoReport(DemoSetup setup) => Setup = setup ?? throw new ArgumentNullException(nameof(setup));

    /// <summary>What was run.</summary>
    public DemoSetup Setup { get; }

    /// <summary>Pages filled with each kind.</summary>
    public IReadOnlyDictionary<PageKind, long> PageKinds { get; set; } = new Dictionary<PageKind, long>();

    /// <summary>The phases run, in order.</summary>
    public List<PhaseResult> Phases { get; } = [];

    /// <summary>The guest's runs (guest-run, guest-idle) by phase name.</summary>
    public Dictionary<string, GuestRunResult> GuestRuns { get; } = [];

    /// <summary>Host memory held for the guest after the fill, before Enable.</summary>
    public HostMemorySnapshot? BeforeEnable { get; set; }

    /// <summary>Host memory held after trim, right before swap-out.</summary>
    public HostMemorySnapshot? BeforeSwapOut { get; set; }

    /// <summary>Host memory held right after swap-out.</summary>
    public HostMemorySnapshot? AfterSwapOut { get; set; }

    /// <summary>Whether every page was checked against its reference.</summary>
    public bool Verified { get; set; }

    /// <summary>Pages whose final bytes differ from the reference.</summary>
    public List<long> MismatchedPages { get; set; } = [];

    /// <summary>The phase during which Ctrl-C or SIGTERM arrived; null when the run was not interrupted.</summary>
    public string? InterruptedDuring { get; set; }

    /// <summary>The signal that interrupted the run (SIGINT, SIGQUIT, SIGTERM); null when it was not interrupted.</summary>
    public string? InterruptedBy { get; set; }

    /// <summary>
    /// Whether the runtime stopped during the run: a control client sent <c>exit</c>, which swaps
    /// every page back in before it stops. Not an error: the verification says whether they are all back.
    /// </summary>
    public bool RuntimeStopped { get; set; }

    /// <summary>The runtime error that cut the life cycle short, if any.</summary>
    public string? Error { get; set; }

    /// <summary>Fault latency over all guest runs.</summary>
    public FaultLatency AllFaults => FaultLatency.FromTicks(GuestRuns.Values.SelectMany(r => r.LatencyTicks));

    /// <summary>Pages the vCPUs read back wrong while the guest ran.</summary>
    public IReadOnlyList<long> ReadMismatches => [.. GuestRuns.Values.SelectMany(r => r.ReadMismatches).Distinct().Order()];

    /// <summary>vCPUs left stuck in a fault.</summary>
    public int StuckVcpus => GuestRuns.Values.Sum(r => r.StuckVcpus);

    /// <summary>True when every page reads back exactly what was last written to it, during the runs and at the end.</summary>
    public bool IntegrityOk => Verified && MismatchedPages.Count == 0 && ReadMismatches.Count == 0 && StuckVcpus == 0;

    /// <summary>0 when the guest's memory is intact and the runtime did not fail, 1 otherwise.</summary>
    public int ExitCode => IntegrityOk && Error is null ? Program.ExitOk : Program.ExitFailed;

    /// <summary>The phase named <paramref name="name"/>, if it ran.</summary>
    public PhaseResult? Phase(string name) => Phases.Find(p => p.Name == name);

    /// <summary>The report as one indented JSON document; the status objects have crosvm's shape.</summary>
    public string ToJson() => ToNode().ToJsonString(Indented);

    /// <summary>The report as a JSON object.</summary>
    public JsonObject ToNode()
    {
        var o = Setup.Options;
        return new JsonObject
        {
            ["guest"] = new JsonObject
            {
                ["mib"] = o.GuestMib,
                ["regions"] = o.Regions,
                ["vcpus"] = o.Vcpus,
                ["vcpu_kind"] = VcpuKindName(Setup.VcpuKind),
                ["pages"] = o.GuestPages,
                ["page_size"] = PageSize.Bytes,
                ["hot_pages"] = o.HotPages,
                ["idle_seconds"] = o.IdleSeconds,
                ["seed"] = o.Seed,
                ["swap_dir"] = Setup.SwapDirectory,
                ["page_kinds"] = new JsonObject(PageKinds.Select(k => KeyValuePair.Create(k.Key.ToString().ToLowerInvariant(), (JsonNode?)k.Value))),
            },
            ["phases"] = new JsonArray([.. Phases.Select(PhaseNode)]),
            ["guest_runs"] = new JsonArray([.. GuestRuns.Select(r => (JsonNode)new JsonObject
            {
                ["phase"] = r.Key,
                ["faults"] = r.Value.Faults,
                ["accesses"] = r.Value.Accesses,
                ["writes"] = r.Value.Writes,
                ["ms"] = Math.Round(r.Value.Elapsed.TotalMilliseconds, 3),
                ["fault_latency"] = LatencyNode(r.Value.Latency),
            })]),
            ["fault_latency"] = LatencyNode(AllFaults),
            ["fault_latency_timed_by"] = Setup.VcpuKind == VcpuKind.Kvm ? "guest rdtsc" : "host clock",
            ["host_memory"] = new JsonObject
            {
                ["before_enable"] = MemoryNode(BeforeEnable),
                ["before_swap_out"] = MemoryNode(BeforeSwapOut),
                ["after_swap_out"] = MemoryNode(AfterSwapOut),
            },
            ["integrity"] = new JsonObject
            {
                ["ok"] = IntegrityOk,
                ["verified"] = Verified,
                ["mismatched_count"] = MismatchedPages.Count,
                ["mismatched_pages"] = new JsonArray([.. MismatchedPages.Take(MismatchesListed).Select(p => (JsonNode)p)]),
                ["read_mismatches"] = new JsonArray([.. ReadMismatches.Take(MismatchesListed).Select(p => (JsonNode)p)]),
                ["stuck_vcpus"] = StuckVcpus,
            },
            ["interrupted"] = InterruptedDuring,
            ["interrupted_by"] = InterruptedBy,
            ["runtime_stopped"] = RuntimeStopped,
            ["error"] = Error,
            ["exit_code"] = ExitCode,
        };
    }

    /// <summary>The kind as <c>--vcpu-kind</c> spells it.</summary>
    public static string VcpuKindName(VcpuKind kind) => kind == VcpuKind.Kvm ? VcpuKindChoice.Kvm : VcpuKindChoice.Thread;

    private static JsonNode PhaseNode(PhaseResult p) => new JsonObject
    {
        ["name"] = p.Name,
        ["pages"] = p.Pages,
        ["ms"] = Math.Round(p.Milliseconds, 3),
        ["mb_per_s"] = p.MbPerSecond is { } rate ? Math.Round(rate, 1) : null,
        ["status"] = p.Status is { } status ? StatusJson.ToNode(status) : null,
    };

    private static JsonObject LatencyNode(FaultLatency l) => new()
    {
        ["samples"] = l.Samples,
        ["p50_us"] = Math.Round(l.P50Microseconds, 1),
        ["p99_us"] = Math.Round(l.P99Microseconds, 1),
        ["max_us"] = Math.Round(l.MaxMicroseconds, 1),
    };

    private static JsonObject? MemoryNode(HostMemorySnapshot? m) => m is null ? null : new JsonObject
    {
        ["guest_bytes"] = m.GuestBytes,
        ["staging_bytes"] = m.StagingBytes,
        ["swap_page_cache_bytes"] = m.SwapPageCacheBytes,
        ["total_bytes"] = m.TotalBytes,
    };
}
