using System.Collections.Concurrent;
using System.Globalization;
using Serilog.Core;
using Serilog.Events;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>Keeps every Serilog event in memory.</summary>
internal sealed class InMemorySink : ILogEventSink
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);

    /// <summary>Waits for an event whose rendered message contains <paramref name="text"/>.</summary>
    internal async Task<LogEvent> WaitForAsync(string text, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var match = _events.FirstOrDefault(e => e.RenderMessage(CultureInfo.InvariantCulture).Contains(text, StringComparison.Ordinal));
            if (match is not null)
            {
                return match;
            }

            Assert.True(
                DateTime.UtcNow < until,
                $"no Serilog event containing '{text}' within {deadline.TotalSeconds} s; got:{Environment.NewLine}{string.Join(Environment.NewLine, _events.Select(e => e.RenderMessage(CultureInfo.InvariantCulture)))}");
            await Task.Delay(10);
        }
    }
}
