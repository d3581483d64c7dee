using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace VmmSwap.Cli.Common;

/// <summary>
/// The demo's Serilog logger: warnings and errors only (the runtime's state changes are shown by the
/// demo itself), all on stderr so that stdout stays the report (and valid JSON with --json).
/// </summary>
public static class DemoLogging
{
    private const string Template = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>A logger writing warnings and above to <paramref name="stderr"/>.</summary>
    public static Logger CreateLogger(TextWriter stderr) => CreateLogger(stderr, LogEventLevel.Warning);

    /// <summary>A logger writing <paramref name="minimum"/> and above to <paramref name="stderr"/>.</summary>
    public static Logger CreateLogger(TextWriter stderr, LogEventLevel minimum)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        var configuration = new LoggerConfiguration().MinimumLevel.Is(minimum);

        // The console sink owns the real stderr (and colours it when it is a terminal); a writer
        // handed in by a test gets the same lines through a plain sink.
        return (ReferenceEquals(stderr, Console.Error)
            ? configuration.WriteTo.Console(
                restrictedToMinimumLevel: minimum,
                outputTemplate: Template,
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            : configuration.WriteTo.Sink(new TextWriterSink(stderr, new MessageTemplateTextFormatter(Template, System.Globalization.CultureInfo.InvariantCulture)), minimum))
            .CreateLogger();
    }
}
