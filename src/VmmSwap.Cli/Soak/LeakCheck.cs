namespace VmmSwap.Cli.Soak;

/// <summary>One resource that grew between an early cycle and the end by more than its tolerance.</summary>
/// <param name="Resource">open_fds, vm_rss_bytes or managed_heap_bytes.</param>
/// <param name="Early">Its value after the early cycle.</param>
/// <param name="End">Its value at the end.</param>
/// <param name="Tolerance">The growth allowed.</param>
/// <param name="Grown">For descriptors, the kinds there are more of (e.g. "anon_inode:[userfaultfd] +5"); empty otherwise.</param>
public sealed record Leak(string Resource, long Early, long End, long Tolerance, string Grown);

/// <summary>Compares the end of a run with an early cycle; growth beyond the tolerances is a leak.</summary>
public static class LeakCheck
{
    /// <summary>
    /// Descriptors that come and go without leaking: the userfaultfds of second processes that
    /// died since the last Enable (the runtime drops a dead one when it next registers the guest,
    /// and a cycle attaches a few), and the .NET runtime's own: each assembly first loaded after
    /// the early cycle (the filler's, the fault paths') stays mapped through a descriptor or two.
    /// A descriptor leaked per cycle, or per Enable, passes this within a few cycles of a real run.
    /// </summary>
    public const int FdTolerance = 8;

    /// <summary>
    /// Managed heap that comes and goes: Akka's mailboxes and the thread pool's queues keep their
    /// high-water mark, and a collection leaves some gen2 garbage from the last cycle. A runtime
    /// that keeps a cycle's page state alive (present lists, swap-in buffers of megabytes) passes
    /// this within a few cycles.
    /// </summary>
    public const long HeapToleranceBytes = 16 << 20;

    /// <summary>
    /// VmRSS that comes and goes, as a fraction of the guest: the guest mapping itself (balloon
    /// removes not yet touched again leave pages out, faults bring them back), code the JIT
    /// compiles for paths first taken after the early cycle, and freed native memory that malloc
    /// keeps for reuse. A cycle's staging memory or swap-in buffers kept mapped would pass it.
    /// </summary>
    public const double RssToleranceGuestFraction = 0.25;

    /// <summary>The fixed part of the VmRSS tolerance, for the runtime's and the JIT's own growth.</summary>
    public const long RssToleranceBytes = 48 << 20;

    /// <summary>The resources that grew beyond their tolerance from <paramref name="early"/> to <paramref name="end"/>.</summary>
    public static IReadOnlyList<Leak> Compare(ResourceSample early, ResourceSample end, ulong guestBytes)
    {
        ArgumentNullException.ThrowIfNull(early);
        ArgumentNullException.ThrowIfNull(end);
        var (fds, rss, heap) = Tolerances(guestBytes);
        var grown = FdKindsGrown(early, end);
        var leaks = new List<Leak>();
        Add(leaks, "open_fds", early.OpenFds, end.OpenFds, fds, grown);
        Add(leaks, "vm_rss_bytes", early.VmRssBytes, end.VmRssBytes, rss, string.Empty);
        Add(leaks, "managed_heap_bytes", early.ManagedHeapBytes, end.ManagedHeapBytes, heap, string.Empty);
        return leaks;
    }

    /// <summary>The kinds of descriptors there are more of at <paramref name="end"/>, e.g. "pipe +2, anon_inode:[pidfd] +1"; empty when none.</summary>
    public static string FdKindsGrown(ResourceSample early, ResourceSample end)
    {
        ArgumentNullException.ThrowIfNull(early);
        ArgumentNullException.ThrowIfNull(end);
        return string.Join(", ", end.FdKinds
            .Select(k => (k.Key, More: k.Value - early.FdKinds.GetValueOrDefault(k.Key)))
            .Where(k => k.More > 0)
            .OrderByDescending(k => k.More)
            .Select(k => $"{k.Key} +{k.More}"));
    }

    /// <summary>The tolerances for a guest of <paramref name="guestBytes"/>, for the report.</summary>
    public static (int Fds, long RssBytes, long HeapBytes) Tolerances(ulong guestBytes) =>
        (FdTolerance, RssToleranceBytes + (long)(guestBytes * RssToleranceGuestFraction), HeapToleranceBytes);

    private static void Add(List<Leak> leaks, string resource, long early, long end, long tolerance, string grown)
    {
        if (end - early > tolerance)
        {
            leaks.Add(new Leak(resource, early, end, tolerance, grown));
        }
    }
}
