using OpenTelemetry;
using OpenTelemetry.Metrics;
using VmmSwap.Actors.Metrics;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// <c>demo --metrics console</c>: the runtime's meter exported with OpenTelemetry's console
/// exporter, as a host would wire its own exporter (OTLP, Prometheus) with <c>AddMeter("VmmSwap")</c>.
/// </summary>
internal static class ConsoleMetrics
{
    /// <summary>The one exporter the demo offers.</summary>
    internal const string Name = "console";

    private const int ExportIntervalMilliseconds = 5000;

    /// <summary>Starts exporting; disposing the provider exports once more and stops.</summary>
    internal static MeterProvider Start() =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(VmmSwapMeter.Name)
            .AddConsoleExporter((_, reader) => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = ExportIntervalMilliseconds)
            .Build();
}
