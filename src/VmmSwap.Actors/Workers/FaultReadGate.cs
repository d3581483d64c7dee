using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Workers;

/// <summary>
/// Holds every fault read before it starts until <see cref="Open"/>, so a test knows a fault is
/// parked on a read while it sends a command (the core tests hold a read by not executing it; the
/// runtime gives them no such hand). It exists for tests only: given only through the internal
/// <see cref="SwapSupervisor"/> props, it is no part of the runtime's protocol.
/// </summary>
/// <remarks>
/// A read held here is one queued behind other reads: it has not started, so closing the page
/// state cancels it (once let through it does nothing), and its reader, blocked in nothing, stops
/// with the runtime. The same holds for a read the PageHandler would start on its io_uring.
/// </remarks>
internal sealed class FaultReadGate : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<(FaultRead Read, Action Release)> _held = [];
    private bool _open;
    private int _arrived;
    private int _arrivedOnRing;

    /// <summary>How many reads have reached the gate so far (on a fault reader, or before the ring), held or let through.</summary>
    internal int Arrived => Volatile.Read(ref _arrived);

    /// <summary>How many of those the PageHandler would start on its io_uring (the rest were on their way to a fault reader).</summary>
    internal int ArrivedOnRing => Volatile.Read(ref _arrivedOnRing);

    /// <summary>
    /// Called before <paramref name="read"/> starts (by its reader, or by the PageHandler before it
    /// starts it on the ring: <paramref name="onRing"/>): true when the gate keeps it, to call
    /// <paramref name="release"/> once open, which starts it again through this same check.
    /// </summary>
    internal bool Hold(FaultRead read, bool onRing, Action release)
    {
        lock (_lock)
        {
            // Released by Open: counted when it arrived first.
            if (_held.Any(h => ReferenceEquals(h.Read, read)))
            {
                return false;
            }

            Interlocked.Increment(ref _arrived);
            if (onRing)
            {
                Interlocked.Increment(ref _arrivedOnRing);
            }

            if (_open)
            {
                return false;
            }

            _held.Add((read, release));
            return true;
        }
    }

    /// <summary>Whether <paramref name="count"/> reads reach the gate within <paramref name="timeout"/>.</summary>
    internal bool WaitForArrived(int count, TimeSpan timeout) => SpinWait.SpinUntil(() => Arrived >= count, timeout);

    /// <summary>Lets every read held now, and every later one, run.</summary>
    internal void Open()
    {
        (FaultRead Read, Action Release)[] held;
        lock (_lock)
        {
            _open = true;
            held = [.. _held];
        }

        foreach (var (_, release) in held)
        {
            release();
        }
    }

    /// <summary>Opens the gate, so no read stays held once its test is over.</summary>
    public void Dispose() => Open();
}
