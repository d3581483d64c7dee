using System.Globalization;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Soak;

/// <summary>The soak's options, as given on the command line.</summary>
public sealed record SoakOptions
{
    /// <summary>Cycles run when neither --cycles nor --minutes is given.</summary>
    public const int DefaultCycles = 20;

    /// <summary>Bytes in a MiB.</summary>
    public const long MiB = 1 << 20;

    // Small enough that a cycle is quick, large enough for several swap chunks and trim windows.
    private const long MinGuestMib = 4;

    /// <summary>Guest size in MiB.</summary>
    public long GuestMib { get; init; } = 64;

    /// <summary>Cycles to run; null when --minutes decides.</summary>
    public int? Cycles { get; init; }

    /// <summary>Minutes to run for (whole cycles; the last one started runs to its end); null when --cycles decides.</summary>
    public double? Minutes { get; init; }

    /// <summary>Seed of page contents, page ownership and every random choice (interleavings still vary run to run).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Guest threads writing and reading their own pages.</summary>
    public int GuestThreads { get; init; } = 2;

    /// <summary>Threads sending random commands at once.</summary>
    public int CommandThreads { get; init; } = 2;

    /// <summary>Where the soak's tmpfs swap dir is mounted (or, without one, the swap dir itself); null means the system temp directory.</summary>
    public string? SwapDir { get; init; }

    /// <summary>Print one JSON document instead of text.</summary>
    public bool Json { get; init; }

    /// <summary>The directory <see cref="SwapDir"/> stands for.</summary>
    public string ResolvedSwapDir => string.IsNullOrEmpty(SwapDir) ? Path.GetTempPath() : SwapDir;

    /// <summary>Guest bytes.</summary>
    public ulong GuestBytes => (ulong)(GuestMib * MiB);

    /// <summary>Guest pages.</summary>
    public long GuestPages => PageSize.BytesToPages(GuestBytes);

    /// <summary>Null when the options can run; otherwise one line naming the problem and what to pass instead.</summary>
    public string? Problem()
    {
        if (GuestMib < MinGuestMib || GuestMib > long.MaxValue / MiB / 4)
        {
            return $"--guest-mib must be at least {MinGuestMib}, got {GuestMib}; pass e.g. --guest-mib 64";
        }

        if (Cycles is not null && Minutes is not null)
        {
            return "pass either --cycles or --minutes, not both";
        }

        if (Cycles is < 1)
        {
            return $"--cycles must be at least 1, got {Cycles}; pass e.g. --cycles {DefaultCycles}";
        }

        if (Minutes is { } minutes && (!double.IsFinite(minutes) || minutes <= 0 || minutes > TimeSpan.FromDays(7).TotalMinutes))
        {
            return $"--minutes must be a positive number of minutes up to a week, got {minutes.ToString(CultureInfo.InvariantCulture)}; pass e.g. --minutes 3";
        }

        if (GuestThreads is < 1 or > 64)
        {
            return $"--guest-threads must be 1-64, got {GuestThreads}; pass e.g. --guest-threads 2";
        }

        if (CommandThreads is < 1 or > 32)
        {
            return $"--command-threads must be 1-32, got {CommandThreads}; pass e.g. --command-threads 2";
        }

        if (!Directory.Exists(ResolvedSwapDir))
        {
            return $"--swap-dir '{ResolvedSwapDir}' does not exist; pass an existing directory";
        }

        // Guest, staging (both hold a page for a moment during Enable) and the tmpfs swap file.
        var needed = GuestMib * 3 * MiB;
        var available = HostMemory.AvailableBytes();
        return needed <= available
            ? null
            : $"--guest-mib {GuestMib} needs about {needed / MiB} MiB of RAM (guest, staging, tmpfs swap file) but {available / MiB} MiB is available; pass at most --guest-mib {available / MiB / 3}";
    }
}
