using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>What <c>vmm-swap demo</c> was asked to do, as parsed; <see cref="InputValidation"/> decides whether it can run.</summary>
public sealed record DemoOptions
{
    /// <summary>Bytes in a MiB.</summary>
    public const long MiB = 1024 * 1024;

    /// <summary>Share of the guest's pages the vCPUs keep touching, in percent.</summary>
    public const int HotSetPercent = 10;

    /// <summary>Guest memory size in MiB.</summary>
    public long GuestMib { get; init; } = 512;

    /// <summary>Guest memory regions (memfds) the guest is split into.</summary>
    public int Regions { get; init; } = 2;

    /// <summary>vCPU threads touching guest memory while it runs.</summary>
    public int Vcpus { get; init; } = 2;

    /// <summary>Seconds the guest runs after swap-out, faulting its hot pages back in.</summary>
    public double IdleSeconds { get; init; } = 5;

    /// <summary>Percent of pages filled with zeros (trim drops them).</summary>
    public int ZeroPercent { get; init; } = 20;

    /// <summary>Percent of pages holding one of a few patterns repeated across the guest.</summary>
    public int RepeatedPercent { get; init; } = 20;

    /// <summary>Percent of text-like pages.</summary>
    public int TextPercent { get; init; } = 30;

    /// <summary>Directory of the swap file; null means the system temp directory.</summary>
    public string? SwapDir { get; init; }

    /// <summary>Seed of the page contents and of the vCPUs' choices, so runs are repeatable.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Print one JSON document instead of progress bars and tables.</summary>
    public bool Json { get; init; }

    /// <summary>
    /// Path of a control socket (docs/PROTOCOL.md) the demo opens while it runs, so that
    /// <c>vmm-swap status PATH</c> and the other verbs reach its runtime from another terminal;
    /// null opens none.
    /// </summary>
    public string? ControlSocket { get; init; }

    /// <summary>
    /// What runs the vCPUs: <c>kvm</c> or <c>thread</c> as given to <c>--vcpu-kind</c>; null is the
    /// default, KVM where /dev/kvm is usable and threads elsewhere (<see cref="VcpuKindChoice"/>).
    /// </summary>
    public string? VcpuKind { get; init; }

    /// <summary>
    /// Instead of its script, the demo waits for commands on <see cref="ControlSocket"/> between
    /// phases: the guest runs after each state change a person causes from another terminal, and
    /// the pages are verified once a remote disable has brought them back (or on Ctrl-C).
    /// </summary>
    public bool Interactive { get; init; }

    /// <summary>
    /// Where the runtime's metrics (the <c>VmmSwap</c> meter) are exported while the demo runs:
    /// <c>console</c> (OpenTelemetry's console exporter, every 5 s, on stdout) or null for nowhere.
    /// </summary>
    public string? Metrics { get; init; }

    /// <summary>Percent of random (incompressible, unique) pages: whatever the other kinds leave.</summary>
    public int RandomPercent => 100 - ZeroPercent - RepeatedPercent - TextPercent;

    /// <summary>The swap directory to use.</summary>
    public string ResolvedSwapDir => string.IsNullOrEmpty(SwapDir) ? Path.GetTempPath() : SwapDir;

    /// <summary>Guest pages (valid once <see cref="GuestMib"/> has been validated).</summary>
    public long GuestPages => GuestMib * MiB / PageSize.Bytes;

    /// <summary>Pages of the hot working set shared out among the vCPUs.</summary>
    public long HotPages => Math.Max(GuestPages * HotSetPercent / 100, 1);

    /// <summary>How long the guest runs between Enable and Trim: long enough for faults from staging, never longer than the idle run.</summary>
    public TimeSpan ShortRun => TimeSpan.FromSeconds(Math.Min(1.0, IdleSeconds));

    /// <summary>The guest's run after swap-out.</summary>
    public TimeSpan IdleRun => TimeSpan.FromSeconds(IdleSeconds);

    /// <summary>
    /// Region sizes in bytes: the guest's pages shared out as evenly as pages allow, so every region
    /// is page-aligned and they sum to exactly <see cref="GuestMib"/>.
    /// </summary>
    public ulong[] RegionSizes()
    {
        var pages = GuestPages;
        var sizes = new ulong[Regions];
        for (var i = 0; i < Regions; i++)
        {
            var regionPages = (pages / Regions) + (i < pages % Regions ? 1 : 0);
            sizes[i] = PageSize.PagesToBytes(regionPages);
        }

        return sizes;
    }
}
