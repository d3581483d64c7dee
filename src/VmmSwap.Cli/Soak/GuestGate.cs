using System.Diagnostics;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// Pauses the guest threads for Enable, the one time the runtime needs the guest still (it moves
/// memory then). Several Enables may be outstanding at once, from several command threads: the
/// guest runs again only when the last has been answered.
/// </summary>
public sealed class GuestGate
{
    private readonly object _lock = new();
    private readonly int _threads;
    private int _pauses;
    private int _parked;
    private bool _released;

    /// <summary>A gate for <paramref name="threads"/> guest threads.</summary>
    public GuestGate(int threads) => _threads = threads;

    /// <summary>Called by each guest thread between accesses: parks it while a pause is asked for.</summary>
    public void Checkpoint()
    {
        if (Volatile.Read(ref _pauses) == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_pauses == 0 || _released)
            {
                return;
            }

            _parked++;
            Monitor.PulseAll(_lock);
            while (_pauses > 0 && !_released)
            {
                Monitor.Wait(_lock);
            }

            _parked--;
        }
    }

    /// <summary>
    /// Asks every guest thread to park and waits until they all have. False, with the pause
    /// withdrawn, when one did not within <paramref name="deadline"/>: it is stuck in an access.
    /// </summary>
    public bool Pause(TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        lock (_lock)
        {
            _pauses++;
            while (_parked < _threads && !_released)
            {
                var left = deadline - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    _pauses--;
                    Monitor.PulseAll(_lock);
                    return false;
                }

                Monitor.Wait(_lock, left);
            }

            return true;
        }
    }

    /// <summary>Withdraws one pause; the guest runs again when none is left.</summary>
    public void Resume()
    {
        lock (_lock)
        {
            _pauses--;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Lets every thread through for good: the soak is stopping.</summary>
    public void Release()
    {
        lock (_lock)
        {
            _released = true;
            Monitor.PulseAll(_lock);
        }
    }
}
