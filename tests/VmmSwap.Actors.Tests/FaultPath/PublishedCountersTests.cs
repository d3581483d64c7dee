using VmmSwap.Actors.FaultPath;
using VmmSwap.Core;

namespace VmmSwap.Actors.Tests.FaultPath;

/// <summary>
/// The status worker reads the counters the PageHandler publishes, not through its mailbox: a read
/// while a message runs waits for that message's counters (its faults' guests may already be
/// awake), and a read while the handler is idle returns at once.
/// </summary>
public sealed class PublishedCountersTests
{
    private static readonly SwapMetrics Published = new(0, 3, 5, 7, 1, 11, 13);

    [Fact]
    public void A_read_while_idle_returns_the_last_published_counters_at_once()
    {
        var counters = new PublishedCounters();
        Assert.Equal(SwapMetrics.Empty, counters.Read());

        counters.Begin();
        counters.End(Published);

        Assert.Equal(Published, counters.Read());
    }

    [Fact]
    public async Task A_read_while_a_message_runs_waits_for_the_counters_it_publishes()
    {
        var counters = new PublishedCounters();
        counters.Begin();
        counters.End(SwapMetrics.Empty with { StagingPages = 1 });
        counters.Begin();

        var read = Task.Run(counters.Read);
        await Task.Delay(200);
        Assert.False(read.IsCompleted, "a read returned counters while the message changing them still ran");

        counters.End(Published);
        Assert.Equal(Published, await read.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
