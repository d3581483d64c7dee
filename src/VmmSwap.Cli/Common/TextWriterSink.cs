using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace VmmSwap.Cli.Common;

/// <summary>A Serilog sink writing formatted events to a <see cref="TextWriter"/>, serialised because events come from many threads.</summary>
public sealed class TextWriterSink(TextWriter writer, ITextFormatter formatter) : ILogEventSink
{
    private readonly Lock _lock = new();

    /// <inheritdoc />
    public void Emit(LogEvent logEvent)
    {
        lock (_lock)
        {
            formatter.Format(logEvent, writer);
            writer.Flush();
        }
    }
}
