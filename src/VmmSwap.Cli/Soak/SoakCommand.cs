using System.CommandLine;
using Serilog.Events;
using VmmSwap.Cli.Common;

namespace VmmSwap.Cli.Soak;

/// <summary>The <c>soak</c> verb: its options and the action that validates them, runs the soak and reports.</summary>
public static class SoakCommand
{
    /// <summary>Builds the command; its action writes to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var defaults = new SoakOptions();
        var guestMib = new Option<long>("--guest-mib")
        {
            Description = "Guest memory size in MiB (guest, staging and the tmpfs swap file need about three times this in free RAM).",
            DefaultValueFactory = _ => defaults.GuestMib,
        };
        var cycles = new Option<int?>("--cycles") { Description = $"Cycles to run (default {SoakOptions.DefaultCycles}); a cycle ends when a Disable has brought vmm-swap back to Ready." };
        var minutes = new Option<double?>("--minutes") { Description = "Minutes to run for instead of a number of cycles (the last cycle started runs to its end)." };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of page contents, page ownership and every random choice.",
            DefaultValueFactory = _ => defaults.Seed,
        };
        var guestThreads = new Option<int>("--guest-threads")
        {
            Description = "Guest threads reading, writing and balloon-removing their own pages.",
            DefaultValueFactory = _ => defaults.GuestThreads,
        };
        var commandThreads = new Option<int>("--command-threads")
        {
            Description = "Threads sending random commands at once.",
            DefaultValueFactory = _ => defaults.CommandThreads,
        };
        var swapDir = new Option<string?>("--swap-dir")
        {
            Description = "Directory to mount the soak's small tmpfs swap dir in (as root); without root, the swap dir itself. Default: the system temp directory.",
        };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON document." };

        var command = new Command(
            "soak",
            "Drive the runtime with random commands from several threads, guest threads, balloon removes, a second process's userfaultfd and injected faults, checking every page; report losses, hangs and leaks. " + SoakExitCodes.Help)
        {
            guestMib, cycles, minutes, seed, guestThreads, commandThreads, swapDir, json,
        };
        command.SetAction((result, interrupt) => RunAsync(
            new SoakOptions
            {
                GuestMib = result.GetValue(guestMib),
                Cycles = result.GetValue(cycles),
                Minutes = result.GetValue(minutes),
                Seed = result.GetValue(seed),
                GuestThreads = result.GetValue(guestThreads),
                CommandThreads = result.GetValue(commandThreads),
                SwapDir = result.GetValue(swapDir),
                Json = result.GetValue(json),
            },
            stdout,
            stderr,
            interrupt));
        return command;
    }

    /// <summary>Validates <paramref name="options"/> (exit 2 with one line on a refusal), then runs and reports.</summary>
    public static async Task<int> RunAsync(SoakOptions options, TextWriter stdout, TextWriter stderr, CancellationToken interrupt)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (options.Problem() is { } problem)
        {
            await stderr.WriteLineAsync($"vmm-swap soak: {problem}").ConfigureAwait(false);
            return SoakExitCodes.BadInput;
        }

        // Errors only: ignored commands and refused forks are what a soak provokes, and the
        // runtime warns about each; the report counts them.
        using var logger = DemoLogging.CreateLogger(stderr, LogEventLevel.Error);
        try
        {
            var report = await new SoakRunner(options, logger).RunAsync(interrupt).ConfigureAwait(false);
            if (options.Json)
            {
                await stdout.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
            }
            else
            {
                HumanSoakReport.Write(report, stdout);
            }

            return report.ExitCode;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // The runtime, the guest or the swap dir could not be set up: one line, not a stack trace.
            await stderr.WriteLineAsync($"vmm-swap soak: {e.Message}").ConfigureAwait(false);
            return SoakExitCodes.Incomplete;
        }
    }
}
