using Akka.Actor;

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
/// with the runtime.
/// </remarks>
internal sealed class FaultReadGate : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<(IActorRef Reader, ReadForFault Read, IActorRef Sender)> _held = [];
    private bool _open;
    private int _arrived;

    /// <summary>How many reads have reached a fault reader so far, held or let through.</summary>
    internal int Arrived => Volatile.Read(ref _arrived);

    /// <summary>
    /// Called by <paramref name="reader"/> before it runs <paramref name="read"/>: true when the
    /// gate keeps it, to tell it to the reader again (from <paramref name="sender"/>) once open.
    /// </summary>
    internal bool Hold(IActorRef reader, ReadForFault read, IActorRef sender)
    {
        lock (_lock)
        {
            // Told again by Open: counted when it arrived first.
            if (_held.Any(h => ReferenceEquals(h.Read, read)))
            {
                return false;
            }

            Interlocked.Increment(ref _arrived);
            if (_open)
            {
                return false;
            }

            _held.Add((reader, read, sender));
            return true;
        }
    }

    /// <summary>Whether <paramref name="count"/> reads reach the gate within <paramref name="timeout"/>.</summary>
    internal bool WaitForArrived(int count, TimeSpan timeout) => SpinWait.SpinUntil(() => Arrived >= count, timeout);

    /// <summary>Lets every read held now, and every later one, run.</summary>
    internal void Open()
    {
        (IActorRef Reader, ReadForFault Read, IActorRef Sender)[] held;
        lock (_lock)
        {
            _open = true;
            held = [.. _held];
        }

        foreach (var (reader, read, sender) in held)
        {
            reader.Tell(read, sender);
        }
    }

    /// <summary>Opens the gate, so no read stays held once its test is over.</summary>
    public void Dispose() => Open();
}
