using System.Diagnostics;
using System.Diagnostics.Metrics;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Core;
using VmmSwap.Core.Guest;

namespace VmmSwap.Actors.Metrics;

/// <summary>
/// One guest's measurements on <see cref="VmmSwapMeter"/>: the fault thread records fault
/// durations, the supervisor completed jobs, and the meter's gauges read the page state's
/// published counters (never the fault thread's mailbox) when a listener collects.
/// </summary>
internal sealed class GuestMetrics : IDisposable
{
    private static readonly string[] SourceNames = [.. Enum.GetValues<FaultSource>().Select(SnakeCase)];

    private readonly KeyValuePair<string, object?> _guestTag;
    private readonly PublishedCounters _counters;
    private readonly GuestMemory _guest;

    internal GuestMetrics(string guestId, PublishedCounters counters, GuestMemory guest)
    {
        _guestTag = new(VmmSwapMeter.GuestTag, guestId);
        _counters = counters;
        _guest = guest;
        VmmSwapMeter.Add(this);
    }

    /// <summary>
    /// A fault was dealt with: served from <paramref name="source"/> since
    /// <paramref name="startTicks"/>, or, when it had been parked at <paramref name="parkedAt"/>,
    /// recorded as parked for the whole wait. Fault thread only; costs a clock read when no one listens.
    /// </summary>
    internal void Fault(FaultSource source, long startTicks, long? parkedAt)
    {
        if (source == FaultSource.Parked || !VmmSwapMeter.Faults.Enabled)
        {
            return;
        }

        var (from, recorded) = parkedAt is { } parked ? (parked, FaultSource.Parked) : (startTicks, source);
        VmmSwapMeter.Faults.Record(Stopwatch.GetElapsedTime(from).TotalMicroseconds, _guestTag, new(VmmSwapMeter.SourceTag, SourceNames[(int)recorded]));
    }

    /// <summary>A job (or Enable's move) completed, moving <paramref name="pages"/> in <paramref name="elapsed"/>.</summary>
    internal void JobCompleted(string job, long pages, TimeSpan elapsed)
    {
        var jobTag = new KeyValuePair<string, object?>(VmmSwapMeter.JobTag, job);
        VmmSwapMeter.JobPageCounter.Add(pages, _guestTag, jobTag);
        VmmSwapMeter.JobDurations.Record(elapsed.TotalSeconds, _guestTag, jobTag);
    }

    /// <summary>Status's page counts; none while swap is disabled, or when the guest's memory cannot be read.</summary>
    internal IEnumerable<Measurement<long>> ObservePages()
    {
        if (_counters.Probe is null)
        {
            return [];
        }

        SwapMetrics m;
        try
        {
            m = _counters.Read() with { ResidentPages = _guest.Regions.Sum(r => r.ResidentPages()) };
        }
        catch (Exception e) when (e is ObjectDisposedException or Native.Interop.NativeCallException)
        {
            return [];
        }

        return
        [
            Tagged(m.ResidentPages, "resident"),
            Tagged(m.CopiedFromFilePages, "copied_from_file"),
            Tagged(m.CopiedFromStagingPages, "copied_from_staging"),
            Tagged(m.ZeroedPages, "zeroed"),
            Tagged(m.RedundantPages, "redundant"),
            Tagged(m.StagingPages, "staging"),
            Tagged(m.SwapPages, "swap"),
        ];
    }

    /// <summary>The host memory figures of Status (<see cref="HostMemoryUse"/>); none while swap is disabled or when they cannot be read.</summary>
    internal IEnumerable<Measurement<long>> ObserveHostMemory() =>
        HostMemoryUse.Measure(() => _guest.Regions.Sum(r => r.ResidentPages()), _counters.Probe) is { } use
            ?
            [
                Tagged(use.GuestResidentBytes, "guest_resident"),
                Tagged(use.StagingBytes, "staging"),
                Tagged(use.SwapFileBytes, "swap_file_disk"),
                Tagged(use.SwapFileCachedBytes, "swap_file_cache"),
            ]
            : [];

    /// <inheritdoc />
    public void Dispose() => VmmSwapMeter.Remove(this);

    private static string SnakeCase(FaultSource source) => source switch
    {
        FaultSource.AlreadyIn => "already_in",
        _ => source.ToString().ToLowerInvariant(),
    };

    private Measurement<long> Tagged(long value, string kind) => new(value, _guestTag, new(VmmSwapMeter.KindTag, kind));
}
