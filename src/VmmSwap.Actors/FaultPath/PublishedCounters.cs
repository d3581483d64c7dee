using VmmSwap.Core;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// The page state's counters as their owner, the PageHandler actor, publishes them at the end of
/// every message it handles; read by the status worker, so a Status never queues behind faults on
/// the fault thread (docs/ARCHITECTURE.md, "Threading rules").
/// </summary>
/// <remarks>
/// A guest thread is woken by its fault's UFFDIO_COPY before the handler's counters move, so a
/// snapshot read while that message runs would miss a fault the guest has already seen served. The
/// version is odd while a message runs: a reader that finds it odd waits for that message to end,
/// and so always sees every fault served before it asked.
/// </remarks>
internal sealed class PublishedCounters
{
    private SwapMetrics _current = SwapMetrics.Empty;
    private HostMemoryProbe? _probe;
    private long _version;

    /// <summary>The counters once no message that began before this call is still running.</summary>
    internal SwapMetrics Read()
    {
        var version = Interlocked.Read(ref _version);
        if ((version & 1) != 0)
        {
            var spin = new SpinWait();
            while (Interlocked.Read(ref _version) == version)
            {
                spin.SpinOnce();
            }
        }

        return Volatile.Read(ref _current);
    }

    /// <summary>The page state's host-memory probe as last published; null while there is no page state (swap disabled).</summary>
    internal HostMemoryProbe? Probe => Volatile.Read(ref _probe);

    /// <summary>The counters last published, without waiting: for the PageHandler actor itself.</summary>
    internal SwapMetrics Last => Volatile.Read(ref _current);

    /// <summary>A message starts changing the page state; only the PageHandler actor calls it.</summary>
    internal void Begin() => Interlocked.Increment(ref _version);

    /// <summary>The message is done and <paramref name="counters"/> are the page state's now, measured by <paramref name="probe"/>; only the PageHandler actor calls it.</summary>
    internal void End(SwapMetrics counters, HostMemoryProbe? probe = null)
    {
        Volatile.Write(ref _current, counters);
        Volatile.Write(ref _probe, probe);
        Interlocked.Increment(ref _version);
    }
}
