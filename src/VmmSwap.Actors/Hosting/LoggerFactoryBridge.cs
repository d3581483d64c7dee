using Akka.Configuration;
using Akka.Hosting;
using Akka.Hosting.Logging;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// Adds Akka.Hosting's Microsoft.Extensions.Logging bridge (<see cref="LoggerFactoryLogger"/>) to
/// the Akka loggers a host configured, and changes nothing else about its logging.
/// </summary>
/// <remarks>
/// Akka.Hosting's <c>ConfigureLoggers</c> cannot do this: each call starts from a fresh logger
/// list and writes it over <c>akka.loggers</c>, so even <c>AddLoggerFactory</c> alone would drop
/// the loggers the host configured in its own call. The bridge joins <c>akka.loggers</c> as
/// configured so far instead.
/// </remarks>
internal static class LoggerFactoryBridge
{
    private const string LoggersKey = "akka.loggers";

    /// <summary>
    /// Adds the bridge to the loggers <paramref name="builder"/> holds. A host that configured
    /// none gets the bridge alone, in place of Akka's console logger, as a hosted application
    /// logs through Microsoft.Extensions.Logging; one that already has the bridge is left as it is.
    /// </summary>
    internal static AkkaConfigurationBuilder AddTo(AkkaConfigurationBuilder builder)
    {
        var config = builder.Configuration.GetOrElse(Config.Empty);
        var loggers = config.HasPath(LoggersKey) ? [.. config.GetStringList(LoggersKey)] : new List<string>();
        if (loggers.Any(IsBridge))
        {
            return builder;
        }

        loggers.Add(typeof(LoggerFactoryLogger).AssemblyQualifiedName!);
        return builder.AddHocon($"{LoggersKey} = [{string.Join(", ", loggers.Select(HoconText.Quote))}]", HoconAddMode.Prepend);
    }

    private static bool IsBridge(string logger) => Type.GetType(logger.Trim(), throwOnError: false) == typeof(LoggerFactoryLogger);
}
