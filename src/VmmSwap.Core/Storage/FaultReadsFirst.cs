using System.Diagnostics;

namespace VmmSwap.Core.Storage;

/// <summary>
/// Faults read the swap file first: a fault's read says when it runs, and a swap-in's stream
/// waits before each piece it reads until none runs (at most a bounded time, so a guest faulting
/// without pause cannot stop a swap-in). A vCPU waits on every fault read; a swap-in's piece only
/// makes the swap-in go faster.
/// </summary>
internal sealed class FaultReadsFirst : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _none = new(initialState: true);
    private int _running;

    // Stopwatch timestamp of the last fault read started; 0 before the first.
    private long _lastStarted;

    /// <summary>A fault's read starts.</summary>
    internal void Enter()
    {
        lock (_gate)
        {
            if (_running++ == 0)
            {
                _none.Reset();
            }

            _lastStarted = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>A fault's read ended.</summary>
    internal void Exit()
    {
        lock (_gate)
        {
            if (--_running == 0)
            {
                _none.Set();
            }
        }
    }

    /// <summary>Time since the last fault read started; <see cref="TimeSpan.MaxValue"/> before the first.</summary>
    internal TimeSpan SinceLastStarted
    {
        get
        {
            var last = Volatile.Read(ref _lastStarted);
            return last == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(last);
        }
    }

    /// <summary>Waits until no fault read runs, at most <paramref name="limit"/>; false when one still runs.</summary>
    internal bool WaitForNone(TimeSpan limit) => _none.Wait(limit);

    /// <inheritdoc />
    public void Dispose() => _none.Dispose();
}
