using System.CommandLine;
using VmmSwap.Cli.Common;

namespace VmmSwap.Cli.Demo;

/// <summary>The <c>demo</c> verb: its options and the action that validates them and runs the demo.</summary>
public static class DemoCommand
{
    /// <summary>
    /// Builds the command; its action writes to <paramref name="stdout"/> and <paramref name="stderr"/>
    /// and stops early when <paramref name="interrupt"/> is raised.
    /// </summary>
    public static Command Create(TextWriter stdout, TextWriter stderr, Interrupt interrupt)
    {
        var defaults = new DemoOptions();
        var guestMib = new Option<long>("--guest-mib")
        {
            Description = "Guest memory size in MiB (guest plus staging need about twice this in free RAM).",
            DefaultValueFactory = _ => defaults.GuestMib,
        };
        var regions = new Option<int>("--regions")
        {
            Description = "Guest memory regions (memfds) the guest is split into.",
            DefaultValueFactory = _ => defaults.Regions,
        };
        var vcpus = new Option<int>("--vcpus")
        {
            Description = "vCPU threads touching the guest's hot pages while it runs.",
            DefaultValueFactory = _ => defaults.Vcpus,
        };
        var idleSeconds = new Option<double>("--idle-seconds")
        {
            Description = "Seconds the guest runs after swap-out, faulting its hot pages back in.",
            DefaultValueFactory = _ => defaults.IdleSeconds,
        };
        var zeroPercent = new Option<int>("--zero-percent")
        {
            Description = "Percent of guest pages that are all zeros.",
            DefaultValueFactory = _ => defaults.ZeroPercent,
        };
        var repeatedPercent = new Option<int>("--repeated-percent")
        {
            Description = "Percent of guest pages repeating one of a few shared patterns.",
            DefaultValueFactory = _ => defaults.RepeatedPercent,
        };
        var textPercent = new Option<int>("--text-percent")
        {
            Description = "Percent of text-like guest pages; the rest are random.",
            DefaultValueFactory = _ => defaults.TextPercent,
        };
        var swapDir = new Option<string?>("--swap-dir")
        {
            Description = "Directory for the swap file (needs O_TMPFILE: ext4, xfs, btrfs, tmpfs). Default: the system temp directory.",
        };
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the page contents and the vCPUs' choices.",
            DefaultValueFactory = _ => defaults.Seed,
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print the report as one JSON document and no progress.",
        };

        var controlSocket = new Option<string?>("--control-socket")
        {
            Description = "Open a control socket at PATH while the demo runs (mode 0600), so 'vmm-swap status PATH' (and enable, trim, out, disable, and with --interactive prefetch) reach its runtime from another terminal. Without --interactive the demo still runs its own script, and commands sent meanwhile are interleaved with its phases.",
            HelpName = "PATH",
        };

        var vcpuKind = new Option<string?>("--vcpu-kind")
        {
            Description = $"What runs the vCPUs: '{VcpuKindChoice.Kvm}' (KVM vCPUs running a guest program, as in a VMM) or '{VcpuKindChoice.Thread}' (threads copying through native calls). Default: {VcpuKindChoice.Kvm} where /dev/kvm is usable, else {VcpuKindChoice.Thread}.",
            HelpName = "KIND",
        };
        var interactive = new Option<bool>("--interactive")
        {
            Description = "With --control-socket: run no script, but wait for commands between phases. From another terminal run 'vmm-swap enable PATH', 'vmm-swap status PATH', 'vmm-swap trim PATH', 'vmm-swap out PATH', 'vmm-swap prefetch PATH' (the working set back while swap stays enabled; the runtime records it in this mode), 'vmm-swap disable PATH'; the guest runs after each state change, and once disable (or a control client's exit, which also stops the runtime) has brought every page back the demo verifies them and exits. An enable may come at any time: the runtime pauses the guest for the move to staging and resumes it after. Ctrl-C ends it early (disable and verify still run).",
        };

        var metrics = new Option<string?>("--metrics")
        {
            Description = $"Export the runtime's metrics (the VmmSwap meter: page counts, host memory, fault durations by source, jobs) while the demo runs: '{ConsoleMetrics.Name}' prints them every 5 s with OpenTelemetry's console exporter. dotnet-counters reads them too: dotnet-counters monitor -n vmm-swap --counters VmmSwap.",
            HelpName = "EXPORTER",
        };

        var command = new Command("demo", "Fill a simulated guest, swap its memory out and back in while it runs, and verify every page.")
        {
            guestMib, regions, vcpus, idleSeconds, zeroPercent, repeatedPercent, textPercent, swapDir, seed, json, controlSocket, vcpuKind, interactive, metrics,
        };
        command.SetAction((result, _) => RunAsync(
            new DemoOptions
            {
                GuestMib = result.GetValue(guestMib),
                Regions = result.GetValue(regions),
                Vcpus = result.GetValue(vcpus),
                IdleSeconds = result.GetValue(idleSeconds),
                ZeroPercent = result.GetValue(zeroPercent),
                RepeatedPercent = result.GetValue(repeatedPercent),
                TextPercent = result.GetValue(textPercent),
                SwapDir = result.GetValue(swapDir),
                Seed = result.GetValue(seed),
                Json = result.GetValue(json),
                ControlSocket = result.GetValue(controlSocket),
                VcpuKind = result.GetValue(vcpuKind),
                Interactive = result.GetValue(interactive),
                Metrics = result.GetValue(metrics),
            },
            stdout,
            stderr,
            interrupt));
        return command;
    }

    /// <summary>Validates <paramref name="options"/> (exit 2 with one line on a refusal), then runs and reports.</summary>
    public static async Task<int> RunAsync(DemoOptions options, TextWriter stdout, TextWriter stderr, Interrupt interrupt)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(interrupt);
        var validated = InputValidation.Validate(options);
        if (validated.Error is { } error)
        {
            await stderr.WriteLineAsync($"vmm-swap demo: {error}").ConfigureAwait(false);
            return Program.ExitBadInput;
        }

        if (validated.Setup!.KvmFallbackReason is { } reason)
        {
            await stderr.WriteLineAsync($"vmm-swap demo: KVM is not usable, so the vCPUs run as threads: {reason}").ConfigureAwait(false);
        }

        using var logger = DemoLogging.CreateLogger(stderr);
        using var exporter = options.Metrics is null ? null : ConsoleMetrics.Start();
        try
        {
            DemoReport report;
            if (options.Json)
            {
                report = await new DemoRunner(validated.Setup!, SilentPhaseProgress.Instance, logger) { Prompts = stderr }.RunAsync(interrupt.Token).ConfigureAwait(false);
                report.InterruptedBy = InterruptedBy(report, interrupt);
                await stdout.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
            }
            else
            {
                var console = HumanReport.CreateConsole(stdout);
                report = await SpectrePhaseProgress.RunAsync(console, progress => new DemoRunner(validated.Setup!, progress, logger) { Prompts = stderr }.RunAsync(interrupt.Token)).ConfigureAwait(false);
                report.InterruptedBy = InterruptedBy(report, interrupt);
                HumanReport.Write(console, report);
            }

            return report.ExitCode;
        }
        catch (Exception e)
        {
            // The runner reports runtime failures itself; this is what it could not (the host did
            // not start, the guest could not be created): one line, not a stack trace.
            await stderr.WriteLineAsync($"vmm-swap demo: {e.Message}").ConfigureAwait(false);
            return Program.ExitFailed;
        }
    }

    private static string? InterruptedBy(DemoReport report, Interrupt interrupt) =>
        report.InterruptedDuring is null ? null : interrupt.Signal?.ToString();
}
