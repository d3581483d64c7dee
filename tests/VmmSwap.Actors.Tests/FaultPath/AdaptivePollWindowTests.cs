using System.Diagnostics;
using VmmSwap.Actors.FaultPath;

namespace VmmSwap.Actors.Tests.FaultPath;

/// <summary>The fault thread's poll window adapts as KVM's halt_poll_ns: grows on wakeups it just missed, shrinks on long sleeps.</summary>
public sealed class AdaptivePollWindowTests
{
    private static readonly TimeSpan Max = TimeSpan.FromMicroseconds(100);

    [Fact]
    public void Off_never_polls()
    {
        var window = new AdaptivePollWindow(TimeSpan.Zero);

        window.Idled(Ticks(TimeSpan.FromMicroseconds(5)), fault: true);
        window.Idled(Ticks(TimeSpan.FromSeconds(1)), fault: true);

        Assert.Equal(0, window.WindowTicks);
    }

    [Fact]
    public void Wakeups_soon_after_the_window_ran_out_double_it_from_the_grow_start_up_to_the_maximum()
    {
        var window = new AdaptivePollWindow(Max);
        Assert.Equal(0, window.WindowTicks);

        var expected = new[] { 10, 20, 40, 80, 100 };
        foreach (var micros in expected)
        {
            // Just past the window, still within the maximum.
            window.Idled(window.WindowTicks + Ticks(TimeSpan.FromMicroseconds(1)), fault: true);
            Assert.Equal(Ticks(TimeSpan.FromMicroseconds(micros)), window.WindowTicks);
        }
    }

    [Fact]
    public void A_wakeup_the_window_caught_keeps_it()
    {
        var window = Grown(times: 3);
        var before = window.WindowTicks;

        window.Idled(before / 2, fault: true);
        window.Idled(before, fault: true);

        Assert.Equal(before, window.WindowTicks);
    }

    [Fact]
    public void Sleeps_longer_than_the_maximum_halve_the_window_down_to_nothing()
    {
        var window = Grown(times: 5);
        Assert.Equal(Ticks(Max), window.WindowTicks);

        var seen = new List<long>();
        while (window.WindowTicks > 0 && seen.Count < 10)
        {
            window.Idled(Ticks(TimeSpan.FromMilliseconds(5)), fault: true);
            seen.Add(window.WindowTicks);
        }

        Assert.Equal([Ticks(Max) / 2, Ticks(Max) / 4, Ticks(Max) / 8, 0], seen);
    }

    [Fact]
    public void Wakeups_for_other_work_than_a_fault_halve_the_window_however_soon_they_come()
    {
        var window = Grown(times: 5);

        window.Idled(Ticks(TimeSpan.FromMicroseconds(1)), fault: false);
        Assert.Equal(Ticks(Max) / 2, window.WindowTicks);
        window.Idled(Ticks(TimeSpan.FromMicroseconds(60)), fault: false);
        window.Idled(Ticks(TimeSpan.FromMicroseconds(1)), fault: false);
        window.Idled(Ticks(TimeSpan.FromMicroseconds(1)), fault: false);

        Assert.Equal(0, window.WindowTicks);
    }

    [Fact]
    public void A_maximum_below_the_grow_start_is_the_only_window()
    {
        var window = new AdaptivePollWindow(TimeSpan.FromMicroseconds(4));

        window.Idled(Ticks(TimeSpan.FromMicroseconds(3)), fault: true);

        Assert.Equal(Ticks(TimeSpan.FromMicroseconds(4)), window.WindowTicks);
    }

    [Fact]
    public void A_negative_maximum_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptivePollWindow(TimeSpan.FromTicks(-1)));

    private static AdaptivePollWindow Grown(int times)
    {
        var window = new AdaptivePollWindow(Max);
        for (var i = 0; i < times; i++)
        {
            window.Idled(window.WindowTicks + 1, fault: true);
        }

        return window;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
