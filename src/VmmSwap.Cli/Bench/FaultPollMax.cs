using System.CommandLine;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// The bench's <c>--fault-poll-max</c>: how long the runtime's fault thread polls its
/// userfaultfds before it sleeps (<see cref="VmmSwapOptions.FaultPollMax"/>), in whole microseconds.
/// </summary>
internal static class FaultPollMax
{
    /// <summary>The longest window the runtime accepts (its <c>fault-poll-max</c> is at most 10 ms).</summary>
    internal const int MaxMicroseconds = 10_000;

    /// <summary>The option; absent keeps the runtime's default.</summary>
    internal static Option<int?> CreateOption() => new("--fault-poll-max")
    {
        Description = $"The runtime's fault-poll-max in microseconds (0: polling off; at most {MaxMicroseconds}). Default: the runtime's ({Microseconds(new VmmSwapOptions().FaultPollMax)}).",
        HelpName = "MICROSECONDS",
    };

    /// <summary>Why <paramref name="microseconds"/> is refused, or null when it is fine.</summary>
    internal static string? Check(int? microseconds) =>
        microseconds is { } us && us is < 0 or > MaxMicroseconds
            ? $"--fault-poll-max must be 0 to {MaxMicroseconds} (microseconds; 0: polling off), got {us}"
            : null;

    /// <summary>A window in whole microseconds, as the report states it.</summary>
    internal static long Microseconds(TimeSpan window) => (long)Math.Round(window.TotalMicroseconds);
}
