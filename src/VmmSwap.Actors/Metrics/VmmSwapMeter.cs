using System.Diagnostics.Metrics;

namespace VmmSwap.Actors.Metrics;

/// <summary>
/// The runtime's metrics, the .NET way: one <see cref="Meter"/> named <see cref="Name"/>, readable
/// with <c>dotnet-counters monitor --counters VmmSwap</c>, a <see cref="MeterListener"/> or
/// OpenTelemetry's <c>AddMeter("VmmSwap")</c>. Every measurement is tagged with its guest
/// (<see cref="GuestTag"/>). The page counts are Status's crosvm counters; the fault durations
/// are timed on the fault thread, from the event read to the page in place.
/// </summary>
public static class VmmSwapMeter
{
    /// <summary>The meter's name.</summary>
    public const string Name = "VmmSwap";

    /// <summary>The guest a measurement belongs to (its id in <see cref="Hosting.VmmSwapGuests"/>).</summary>
    public const string GuestTag = "vmm_swap.guest";

    /// <summary>Where a fault's page came from: staging, file, zero, already_in, or parked (waited for a read of the file).</summary>
    public const string SourceTag = "vmm_swap.fault.source";

    /// <summary>Which count or which memory a gauge's measurement is.</summary>
    public const string KindTag = "vmm_swap.kind";

    /// <summary>The job a measurement is of: enable, trim, swap_out, swap_in.</summary>
    public const string JobTag = "vmm_swap.job";

    /// <summary>Fault service time (microseconds) by source: <c>vmm_swap.fault.duration</c>.</summary>
    public const string FaultDuration = "vmm_swap.fault.duration";

    /// <summary>Pages by kind, as Status counts them (resident, copied_from_file, copied_from_staging, zeroed, redundant, staging, swap): <c>vmm_swap.pages</c>.</summary>
    public const string Pages = "vmm_swap.pages";

    /// <summary>Host memory held, bytes by kind (guest_resident, staging, swap_file_disk, swap_file_cache): <c>vmm_swap.host_memory</c>.</summary>
    public const string HostMemory = "vmm_swap.host_memory";

    /// <summary>Pages a completed job moved, by job: <c>vmm_swap.job.pages</c>; its rate is the jobs' throughput.</summary>
    public const string JobPages = "vmm_swap.job.pages";

    /// <summary>How long each completed job took (seconds), by job: <c>vmm_swap.job.duration</c>.</summary>
    public const string JobDuration = "vmm_swap.job.duration";

    private static readonly Meter Meter = new(Name, typeof(VmmSwapMeter).Assembly.GetName().Version?.ToString());

    internal static readonly Histogram<double> Faults = Meter.CreateHistogram<double>(FaultDuration, "us", "Time a page fault waited for its page, by where the page came from");

    internal static readonly Counter<long> JobPageCounter = Meter.CreateCounter<long>(JobPages, "{page}", "Pages moved by completed jobs");

    internal static readonly Histogram<double> JobDurations = Meter.CreateHistogram<double>(JobDuration, "s", "Duration of completed jobs");

    private static readonly Lock Gate = new();
    private static readonly List<GuestMetrics> Guests = [];

    static VmmSwapMeter()
    {
        Meter.CreateObservableGauge(Pages, () => Observe(g => g.ObservePages()), "{page}", "Guest pages by where they are, and pages faulted in since Enable by source (Status's counters)");
        Meter.CreateObservableGauge(HostMemory, () => Observe(g => g.ObserveHostMemory()), "By", "Host memory and disk held: guest pages resident, staging, the swap file on disk and in the page cache");
    }

    internal static void Add(GuestMetrics guest)
    {
        lock (Gate)
        {
            Guests.Add(guest);
        }
    }

    internal static void Remove(GuestMetrics guest)
    {
        lock (Gate)
        {
            Guests.Remove(guest);
        }
    }

    private static List<Measurement<long>> Observe(Func<GuestMetrics, IEnumerable<Measurement<long>>> observe)
    {
        GuestMetrics[] guests;
        lock (Gate)
        {
            guests = [.. Guests];
        }

        return [.. guests.SelectMany(observe)];
    }
}
