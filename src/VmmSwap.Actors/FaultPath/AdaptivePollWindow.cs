using System.Diagnostics;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// How long the fault thread polls its userfaultfds before it sleeps in epoll, adapted the way
/// KVM adapts <c>halt_poll_ns</c>: a fault that came after the window but within the maximum
/// doubles the window (from <see cref="GrowStart"/>), since polling that long would have caught
/// it; a sleep longer than the maximum, or a wakeup for anything but a fault, halves it (below
/// <see cref="GrowStart"/>, to nothing); a fault the window caught keeps it. A guest that faults in bursts is served by a thread still
/// awake (on this kind of machine a fault that wakes a sleeping thread costs several times one
/// that finds it polling), and a guest gone idle costs one window and then no CPU.
/// </summary>
internal sealed class AdaptivePollWindow
{
    /// <summary>The window a first grow starts from.</summary>
    internal static readonly TimeSpan GrowStart = TimeSpan.FromMicroseconds(10);

    private readonly long _maxTicks;
    private readonly long _growStartTicks;
    private long _windowTicks;

    /// <summary>A window that grows up to <paramref name="max"/>; zero keeps polling off.</summary>
    internal AdaptivePollWindow(TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, TimeSpan.Zero);
        _maxTicks = ToTicks(max);
        _growStartTicks = Math.Min(ToTicks(GrowStart), _maxTicks);
    }

    /// <summary>The window now, in <see cref="Stopwatch"/> ticks: 0 sleeps at once.</summary>
    internal long WindowTicks => _windowTicks;

    /// <summary>
    /// Adapts the window to an idle spell that ended <paramref name="idleTicks"/> (Stopwatch ticks)
    /// after it began, polling included, on a fault (<paramref name="fault"/>) or on other work.
    /// Only faults are worth polling for, as only a valid wakeup is to KVM: other work (a job's
    /// chunk, a status) shrinks the window, so a running job does not keep the thread spinning
    /// beside the page workers it is waiting for.
    /// </summary>
    internal void Idled(long idleTicks, bool fault)
    {
        if (_maxTicks == 0)
        {
            return;
        }

        if (!fault || idleTicks > _maxTicks)
        {
            _windowTicks = _windowTicks / 2 < _growStartTicks ? 0 : _windowTicks / 2;
        }
        else if (idleTicks > _windowTicks)
        {
            _windowTicks = Math.Min(_maxTicks, Math.Max(_growStartTicks, _windowTicks * 2));
        }
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
