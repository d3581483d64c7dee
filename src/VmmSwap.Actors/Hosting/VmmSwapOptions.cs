using System.Globalization;
using Akka.Configuration;
using VmmSwap.Core.Pages;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// Runtime options, read from the <c>vmm-swap</c> HOCON section and overridable in code. Every
/// default is written once, in the embedded hocon/vmm-swap.hocon: <c>new VmmSwapOptions()</c>
/// holds what <see cref="FromConfig"/> reads from <see cref="VmmSwapConfig.Default"/>, and
/// <see cref="ToHocon"/> writes options back as that section.
/// </summary>
public sealed record VmmSwapOptions
{
    /// <summary>The HOCON section the options are read from and written to.</summary>
    public const string Section = "vmm-swap";

    private const string SwapDirKey = "swap-dir";
    private const string PageWorkersKey = "page-workers";
    private const string PageWorkerNiceKey = "page-worker-nice";
    private const string SwapChunkSizeKey = "swap-chunk-size";
    private const string SwapInStepSizeKey = "swap-in-step-size";
    private const string TrimChunkPagesKey = "trim-chunk-pages";
    private const string ShutdownTimeoutKey = "shutdown-timeout";
    private const string FaultReadPagesKey = "fault-read-pages";
    private const string FaultReadersKey = "fault-readers";
    private const string FaultReadsIoUringKey = "fault-reads-io-uring";
    private const string WorkingSetFirstKey = "working-set-first";
    private const string FreezeCgroupKey = "freeze-cgroup";
    private const string FaultPollMaxKey = "fault-poll-max";

    // Read once from the embedded HOCON; every new VmmSwapOptions() starts as a copy.
    private static readonly VmmSwapOptions Defaults = new VmmSwapOptions(VmmSwapConfig.Default.GetConfig(Section)).Validated();

    /// <summary>Options with the embedded defaults (hocon/vmm-swap.hocon).</summary>
    public VmmSwapOptions()
        : this(Defaults)
    {
    }

    // Every key must be there: FromConfig falls back to the embedded defaults, which hold them all.
    private VmmSwapOptions(Config section)
    {
        SwapDirectory = ReadString(section, SwapDirKey);
        PageWorkerCount = Read(section, PageWorkersKey, (c, k) => c.GetInt(k));
        PageWorkerNice = Read(section, PageWorkerNiceKey, (c, k) => c.GetInt(k));
        SwapChunkBytes = ReadBytes(section, SwapChunkSizeKey);
        SwapInStepBytes = ReadBytes(section, SwapInStepSizeKey);
        TrimChunkPages = Read(section, TrimChunkPagesKey, (c, k) => c.GetLong(k));
        ShutdownTimeout = Read(section, ShutdownTimeoutKey, (c, k) => c.GetTimeSpan(k, allowInfinite: false));
        FaultReadPages = Read(section, FaultReadPagesKey, (c, k) => c.GetInt(k));
        FaultReaders = Read(section, FaultReadersKey, (c, k) => c.GetInt(k));
        FaultReadsIoUring = Read(section, FaultReadsIoUringKey, (c, k) => c.GetBoolean(k));
        WorkingSetFirst = Read(section, WorkingSetFirstKey, (c, k) => c.GetBoolean(k));
        FreezeCgroup = ReadString(section, FreezeCgroupKey);
        FaultPollMax = Read(section, FaultPollMaxKey, (c, k) => c.GetTimeSpan(k, allowInfinite: false));
    }

    /// <summary>Directory for the O_TMPFILE swap file; null or empty means the system temp directory.</summary>
    public string? SwapDirectory { get; init; }

    /// <summary>Page workers (move to staging, swap-out writes, trim comparisons, swap-in reads); 0 means one per core.</summary>
    public int PageWorkerCount { get; init; }

    /// <summary>Bytes per swap-out write and per swap-in read (both run on a page worker, not in a fault's way).</summary>
    public ulong SwapChunkBytes { get; init; }

    /// <summary>Bytes copied into the guest per swap-in step on the fault thread: a fault waits at most one step.</summary>
    public ulong SwapInStepBytes { get; init; }

    /// <summary>Pages examined per trim chunk (on a page worker; the fault thread applies the result).</summary>
    public long TrimChunkPages { get; init; }

    /// <summary>
    /// How long the actor system's coordinated shutdown waits for vmm-swap to swap every page back
    /// in and stop, before any actor is stopped (its <c>before-actor-system-terminate</c> phase,
    /// whose timeout <see cref="VmmSwapConfig.For"/> sets to this). Swap-in of a large guest from a
    /// slow disk takes minutes; pages still out when it ends are lost with the runtime.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; }

    /// <summary>
    /// Pages read for a fault on a swap-file page not in the page cache: the page and its present
    /// neighbours in its aligned block of this many, read by a fault reader while the fault thread
    /// serves other faults; the neighbours then come from that read. 0 reads the page on the fault
    /// thread through the file's mapping instead (every other fault waits for that disk read).
    /// </summary>
    public int FaultReadPages { get; init; }

    /// <summary>Threads reading swap-file pages for parked faults, beside the page workers: up to this many reads run at once.</summary>
    public int FaultReaders { get; init; }

    /// <summary>
    /// Whether a fault's swap-file read starts on an io_uring from the fault thread, which the
    /// kernel completes while the thread serves on, instead of on a fault reader. Where io_uring is
    /// missing or refused the runtime logs why and reads on the fault readers.
    /// </summary>
    public bool FaultReadsIoUring { get; init; }

    /// <summary>
    /// Whether the runtime records the pages the guest faults (this cycle and the one before) and
    /// a swap-in brings those in first, then the rest; <see cref="SwapCommand.Prefetch"/> needs it.
    /// Off by default: see the embedded hocon for what was measured.
    /// </summary>
    public bool WorkingSetFirst { get; init; }

    /// <summary>
    /// The cgroup v2 directory whose freezer stops the device processes attached with freeze
    /// while Enable moves memory (each must be in it, or below it, when attached); null or empty
    /// means SIGSTOP to each instead. Checked when the runtime starts: it must be a cgroup under
    /// the cgroup2 mount other than the root.
    /// </summary>
    public string? FreezeCgroup { get; init; }

    /// <summary>
    /// The longest the fault thread polls its userfaultfds for the next fault before it sleeps in
    /// epoll; the window adapts as KVM's halt polling does, and shrinks to nothing while the guest
    /// is idle. Zero turns polling off.
    /// </summary>
    public TimeSpan FaultPollMax { get; init; }

    /// <summary>The swap directory to use.</summary>
    public string ResolvedSwapDirectory => string.IsNullOrEmpty(SwapDirectory) ? Path.GetTempPath() : SwapDirectory;

    /// <summary>
    /// Nice value of the page workers' threads (0-19): above the default so background page work
    /// yields the CPU to vCPUs and to the fault thread.
    /// </summary>
    public int PageWorkerNice { get; init; }

    /// <summary>The number of page workers to use.</summary>
    public int ResolvedPageWorkerCount => PageWorkerCount > 0 ? PageWorkerCount : Environment.ProcessorCount;

    /// <summary>
    /// Reads the options from <paramref name="config"/>'s <c>vmm-swap</c> section, keys it lacks
    /// from the embedded defaults. A value that is not of its key's type, or out of range, throws
    /// <see cref="ArgumentException"/> naming the key.
    /// </summary>
    public static VmmSwapOptions FromConfig(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new VmmSwapOptions(config.WithFallback(VmmSwapConfig.Default).GetConfig(Section)).Validated();
    }

    /// <summary>
    /// These options as a <c>vmm-swap { ... }</c> HOCON section, every key written:
    /// <see cref="FromConfig"/> of it gives options equal to these.
    /// </summary>
    public string ToHocon()
    {
        var swapDir = HoconText.Quote(SwapDirectory ?? string.Empty);
        var shutdownTimeout = HoconText.Duration(ShutdownTimeout);
        var freezeCgroup = HoconText.Quote(FreezeCgroup ?? string.Empty);
        var faultPollMax = HoconText.Duration(FaultPollMax);
        return string.Create(
            CultureInfo.InvariantCulture,
            $$"""
            {{Section}} {
              {{SwapDirKey}} = {{swapDir}}
              {{PageWorkersKey}} = {{PageWorkerCount}}
              {{PageWorkerNiceKey}} = {{PageWorkerNice}}
              {{SwapChunkSizeKey}} = {{SwapChunkBytes}}
              {{SwapInStepSizeKey}} = {{SwapInStepBytes}}
              {{TrimChunkPagesKey}} = {{TrimChunkPages}}
              {{ShutdownTimeoutKey}} = {{shutdownTimeout}}
              {{FaultReadPagesKey}} = {{FaultReadPages}}
              {{FaultReadersKey}} = {{FaultReaders}}
              {{FaultReadsIoUringKey}} = {{(FaultReadsIoUring ? "on" : "off")}}
              {{WorkingSetFirstKey}} = {{(WorkingSetFirst ? "on" : "off")}}
              {{FreezeCgroupKey}} = {{freezeCgroup}}
              {{FaultPollMaxKey}} = {{faultPollMax}}
            }
            """);
    }

    /// <summary>Returns these options, or throws naming the first invalid one.</summary>
    public VmmSwapOptions Validated()
    {
        if (SwapChunkBytes < (ulong)PageSize.Bytes || !PageSize.IsAligned(SwapChunkBytes))
        {
            throw new ArgumentException($"{Section}.{SwapChunkSizeKey} must be a positive multiple of the {PageSize.Bytes}-byte page, got {SwapChunkBytes}");
        }

        if (SwapInStepBytes < (ulong)PageSize.Bytes || !PageSize.IsAligned(SwapInStepBytes))
        {
            throw new ArgumentException($"{Section}.{SwapInStepSizeKey} must be a positive multiple of the {PageSize.Bytes}-byte page, got {SwapInStepBytes}");
        }

        if (TrimChunkPages <= 0)
        {
            throw new ArgumentException($"{Section}.{TrimChunkPagesKey} must be positive, got {TrimChunkPages}");
        }

        if (PageWorkerNice is < 0 or > 19)
        {
            throw new ArgumentException($"{Section}.{PageWorkerNiceKey} must be 0-19 (a raise needs no privilege), got {PageWorkerNice}");
        }

        if (ShutdownTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{Section}.{ShutdownTimeoutKey} must be positive, got {ShutdownTimeout}");
        }

        if (FaultReadPages is < 0 or > Core.Work.FaultRead.MaxPages)
        {
            throw new ArgumentException($"{Section}.{FaultReadPagesKey} must be 0 (read on the fault thread) to {Core.Work.FaultRead.MaxPages}, got {FaultReadPages}");
        }

        if (FaultReaders <= 0)
        {
            throw new ArgumentException($"{Section}.{FaultReadersKey} must be positive, got {FaultReaders}");
        }

        if (FaultPollMax < TimeSpan.Zero || FaultPollMax > TimeSpan.FromMilliseconds(10))
        {
            throw new ArgumentException($"{Section}.{FaultPollMaxKey} must be 0 (no polling) to 10ms, got {FaultPollMax}");
        }

        if (PageWorkerCount < 0)
        {
            throw new ArgumentException($"{Section}.{PageWorkersKey} must be 0 (one per core) or positive, got {PageWorkerCount}");
        }

        if (!string.IsNullOrEmpty(FreezeCgroup) && !Path.IsPathFullyQualified(FreezeCgroup))
        {
            throw new ArgumentException($"{Section}.{FreezeCgroupKey} must be an absolute path to a cgroup v2 directory, or empty for SIGSTOP, got '{FreezeCgroup}'");
        }

        return this;
    }

    // Akka reads a list or an object where a string is asked for as some string of it, so a path
    // given as [a, b] would be taken for a path; only a plain string is one.
    private static string ReadString(Config section, string key) => Read(section, key, (c, k) =>
        c.GetValue(k) is { } value && value.IsString() && !value.IsArray() && !value.IsObject()
            ? c.GetString(k)
            : throw new ArgumentException("it is not a string"));

    private static ulong ReadBytes(Config section, string key)
    {
        var bytes = Read(section, key, (c, k) => c.GetLong(k));
        return bytes >= 0 ? (ulong)bytes : throw new ArgumentException($"{Section}.{key} must be a positive multiple of the {PageSize.Bytes}-byte page, got {bytes}");
    }

    // Akka's readers throw without the key's name (a FormatException for "abc", an
    // ArgumentNullException for an object or a list, a NotSupportedException for a boolean that is not one); the host needs the key to fix its HOCON.
    private static T Read<T>(Config section, string key, Func<Config, string, T> read)
    {
        if (!section.HasPath(key))
        {
            throw new ArgumentException($"{Section}.{key} has no value");
        }

        try
        {
            return read(section, key);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or ConfigurationException or NotSupportedException)
        {
            throw new ArgumentException($"{Section}.{key} cannot be read: {e.Message}", e);
        }
    }
}
