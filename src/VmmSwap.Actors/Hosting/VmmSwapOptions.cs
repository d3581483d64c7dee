using Akka.Configuration;
using VmmSwap.Core;

namespace VmmSwap.Actors.Hosting;

/// <summary>Runtime options, read from the <c>vmm-swap</c> HOCON section and overridable in code.</summary>
public sealed record VmmSwapOptions
{
    private static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Directory for the O_TMPFILE swap file; null or empty means the system temp directory.</summary>
    public string? SwapDirectory { get; init; }

    /// <summary>Page workers (move to staging, swap-out writes, trim comparisons, swap-in reads); 0 means one per core.</summary>
    public int PageWorkerCount { get; init; }

    /// <summary>Bytes per swap-out write and per swap-in read (both run on a page worker, not in a fault's way).</summary>
    public ulong SwapChunkBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>Bytes copied into the guest per swap-in step on the fault thread: a fault waits at most one step.</summary>
    public ulong SwapInStepBytes { get; init; } = 256 * 1024;

    /// <summary>Pages examined per trim chunk (on a page worker; the fault thread applies the result).</summary>
    public long TrimChunkPages { get; init; } = 256;

    /// <summary>
    /// How long the actor system's coordinated shutdown waits for vmm-swap to swap every page back
    /// in and stop, before any actor is stopped (its <c>before-actor-system-terminate</c> phase,
    /// whose timeout <see cref="VmmSwapConfig.For"/> sets to this). Swap-in of a large guest from a
    /// slow disk takes minutes; pages still out when it ends are lost with the runtime.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = DefaultShutdownTimeout;

    /// <summary>Test seam: jobs wait for <see cref="ResumeJobs"/> before their first chunk, so a test can observe a job's state.</summary>
    internal bool StartJobsPaused { get; init; }

    /// <summary>The swap directory to use.</summary>
    public string ResolvedSwapDirectory => string.IsNullOrEmpty(SwapDirectory) ? Path.GetTempPath() : SwapDirectory;

    /// <summary>
    /// Nice value of the page workers' threads (0-19): above the default so background page work
    /// yields the CPU to vCPUs and to the fault thread.
    /// </summary>
    public int PageWorkerNice { get; init; } = 10;

    /// <summary>The number of page workers to use.</summary>
    public int ResolvedPageWorkerCount => PageWorkerCount > 0 ? PageWorkerCount : Environment.ProcessorCount;

    /// <summary>Reads the options from <paramref name="config"/> (falling back to the built-in defaults).</summary>
    public static VmmSwapOptions FromConfig(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var section = config.WithFallback(VmmSwapConfig.Default).GetConfig("vmm-swap");
        return new VmmSwapOptions
        {
            SwapDirectory = section.GetString("swap-dir", string.Empty),
            PageWorkerCount = section.GetInt("page-workers", 0),
            PageWorkerNice = section.GetInt("page-worker-nice", 10),
            SwapChunkBytes = (ulong)section.GetLong("swap-chunk-size", 2 * 1024 * 1024),
            SwapInStepBytes = (ulong)section.GetLong("swap-in-step-size", 256 * 1024),
            TrimChunkPages = section.GetLong("trim-chunk-pages", 256),
            ShutdownTimeout = section.GetTimeSpan("shutdown-timeout", DefaultShutdownTimeout),
        }.Validated();
    }

    /// <summary>Returns these options, or throws naming the first invalid one.</summary>
    public VmmSwapOptions Validated()
    {
        if (SwapChunkBytes < (ulong)PageSize.Bytes || !PageSize.IsAligned(SwapChunkBytes))
        {
            throw new ArgumentException($"vmm-swap.swap-chunk-size must be a positive multiple of the {PageSize.Bytes}-byte page, got {SwapChunkBytes}");
        }

        if (SwapInStepBytes < (ulong)PageSize.Bytes || !PageSize.IsAligned(SwapInStepBytes))
        {
            throw new ArgumentException($"vmm-swap.swap-in-step-size must be a positive multiple of the {PageSize.Bytes}-byte page, got {SwapInStepBytes}");
        }

        if (TrimChunkPages <= 0)
        {
            throw new ArgumentException($"vmm-swap.trim-chunk-pages must be positive, got {TrimChunkPages}");
        }

        if (PageWorkerNice is < 0 or > 19)
        {
            throw new ArgumentException($"vmm-swap.page-worker-nice must be 0-19 (a raise needs no privilege), got {PageWorkerNice}");
        }

        if (ShutdownTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"vmm-swap.shutdown-timeout must be positive, got {ShutdownTimeout}");
        }

        if (PageWorkerCount < 0)
        {
            throw new ArgumentException($"vmm-swap.page-workers must be 0 (one per core) or positive, got {PageWorkerCount}");
        }

        return this;
    }
}
