using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>An Akka logger of a host's own: keeps the log events of each actor system, by its name.</summary>
internal sealed class RecordingLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<LogEvent>> BySystem = new();

    public RecordingLogger()
    {
        var events = BySystem.GetOrAdd(Context.System.Name, _ => new());
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(events.Enqueue);
    }

    /// <summary>Waits for an event of actor system <paramref name="system"/> whose message contains <paramref name="text"/>.</summary>
    internal static async Task<LogEvent> WaitForAsync(string system, string text, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var events = BySystem.GetOrAdd(system, _ => new());
            var match = events.FirstOrDefault(e => e.ToString().Contains(text, StringComparison.Ordinal));
            if (match is not null)
            {
                return match;
            }

            Assert.True(DateTime.UtcNow < until, $"the host's own Akka logger got no event containing '{text}' within {deadline.TotalSeconds} s; got:{Environment.NewLine}{string.Join(Environment.NewLine, events)}");
            await Task.Delay(10);
        }
    }
}
