using System.Globalization;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Cli.Demo;

/// <summary>The outcome of <see cref="InputValidation.Validate"/>: a setup to run, or one line naming the problem and the fix.</summary>
/// <param name="Setup">What to run; null when refused.</param>
/// <param name="Error">Why the input was refused and what to pass instead; null when accepted.</param>
public sealed record ValidationResult(DemoSetup? Setup, string? Error);

/// <summary>
/// Refuses input the demo cannot run with before anything is allocated, each time with one line
/// that names the problem and the fix. The host checks (RAM, swap directory, userfaultfd) use the
/// real kernel objects the run would use, so a refusal here is the same error the run would hit.
/// </summary>
public static class InputValidation
{
    /// <summary>Checks <paramref name="options"/> against each rule and the host, in order, and returns the first refusal.</summary>
    public static ValidationResult Validate(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var error = CheckNumbers(options) ?? CheckMemory(options);
        if (error is not null)
        {
            return new ValidationResult(null, error);
        }

        var (swapDirectory, swapError) = ProbeSwapDirectory(options.ResolvedSwapDir);
        error = swapError ?? CheckUserfaultfd();
        if (error is not null)
        {
            return new ValidationResult(null, error);
        }

        var vcpus = VcpuKindChoice.Resolve(options.VcpuKind, options.Vcpus);
        return vcpus.Error is not null
            ? new ValidationResult(null, vcpus.Error)
            : new ValidationResult(new DemoSetup(options, swapDirectory!, vcpus.Kind, vcpus.FallbackReason), null);
    }

    private static string? CheckNumbers(DemoOptions o)
    {
        if (o.Interactive && string.IsNullOrEmpty(o.ControlSocket))
        {
            return "--interactive waits for commands on a control socket; pass --control-socket PATH too";
        }

        if (o.Metrics is not null && o.Metrics != ConsoleMetrics.Name)
        {
            return $"--metrics must be '{ConsoleMetrics.Name}' (OpenTelemetry's console exporter), got '{o.Metrics}'";
        }

        if (o.Metrics is not null && o.Json)
        {
            return "--metrics console writes to stdout, which --json's report owns; drop one of them";
        }

        if (o.GuestMib <= 0)
        {
            return $"--guest-mib must be a positive number of MiB, got {o.GuestMib}; pass e.g. --guest-mib 512";
        }

        if (o.Regions <= 0)
        {
            return $"--regions must be a positive count, got {o.Regions}; pass e.g. --regions 2";
        }

        if (o.Vcpus <= 0)
        {
            return $"--vcpus must be a positive count, got {o.Vcpus}; pass e.g. --vcpus 2";
        }

        if (!double.IsFinite(o.IdleSeconds) || o.IdleSeconds <= 0 || o.IdleSeconds > TimeSpan.FromDays(1).TotalSeconds)
        {
            return $"--idle-seconds must be a positive number of seconds up to a day, got {o.IdleSeconds.ToString(CultureInfo.InvariantCulture)}; pass e.g. --idle-seconds 5";
        }

        foreach (var (name, value) in new[] { ("--zero-percent", o.ZeroPercent), ("--repeated-percent", o.RepeatedPercent), ("--text-percent", o.TextPercent) })
        {
            if (value is < 0 or > 100)
            {
                return $"{name} must be between 0 and 100, got {value}; pass e.g. {name} 20";
            }
        }

        if (o.RandomPercent < 0)
        {
            return $"--zero-percent {o.ZeroPercent} + --repeated-percent {o.RepeatedPercent} + --text-percent {o.TextPercent} = {o.ZeroPercent + o.RepeatedPercent + o.TextPercent}, over 100; lower them so they sum to 100 or less (the rest are random pages)";
        }

        // Checked before any page arithmetic: a guest larger than the address space cannot be
        // described in bytes, and would fail the RAM check below anyway.
        if (o.GuestMib > long.MaxValue / DemoOptions.MiB / 2)
        {
            return $"--guest-mib {o.GuestMib} is larger than any machine's memory; pass a smaller --guest-mib";
        }

        if (o.Regions > o.GuestPages)
        {
            return $"--regions {o.Regions} is more than the {o.GuestPages} pages of a {o.GuestMib} MiB guest (every region needs a page); pass fewer --regions or a larger --guest-mib";
        }

        if (o.Vcpus > o.HotPages)
        {
            return $"--vcpus {o.Vcpus} is more than the {o.HotPages} pages of the hot working set ({DemoOptions.HotSetPercent}% of the guest), so some vCPUs would touch nothing; pass fewer --vcpus or a larger --guest-mib";
        }

        return null;
    }

    private static string? CheckMemory(DemoOptions o)
    {
        // Enable copies every guest page into staging before freeing it from the guest, so for a
        // moment both hold it: about twice the guest in RAM.
        var needed = o.GuestMib * 2 * DemoOptions.MiB;
        long available;
        try
        {
            available = HostMemory.AvailableBytes();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return $"cannot tell whether a {o.GuestMib} MiB guest fits in memory: {e.Message}";
        }

        return needed <= available
            ? null
            : $"--guest-mib {o.GuestMib} needs about {needed / DemoOptions.MiB} MiB of RAM (guest + staging) but only {available / DemoOptions.MiB} MiB is available (MemAvailable in /proc/meminfo); pass a smaller --guest-mib, at most {available / DemoOptions.MiB / 2}";
    }

    private static string? CheckUserfaultfd()
    {
        try
        {
            using var uffd = Userfaultfd.Create();
            return null;
        }
        catch (UserfaultfdUnavailableException e)
        {
            // Its message names the refusal and the fix (root, /dev/userfaultfd access, or the sysctl).
            return $"userfaultfd is not available: {e.Message}";
        }
        catch (NativeCallException e)
        {
            return $"userfaultfd could not be opened: {e.Message}";
        }
    }

    private static (string? Directory, string? Error) ProbeSwapDirectory(string directory)
    {
        try
        {
            // The check the runtime makes where it starts: every kind of call its swap file makes.
            SwapDirectoryProbe.Check(directory);
            using var named = TmpFile.Create(directory);
            return (OpenFiles.DirectoryOf(named) ?? Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)), null);
        }
        catch (SwapDirectoryUnusableException e)
        {
            return (null, $"--swap-dir '{directory}' cannot hold the swap file: {e.Cause}; {e.Fix}");
        }
        catch (NativeCallException e)
        {
            // The directory changed between the check and the naming file.
            return (null, $"--swap-dir '{directory}' cannot hold the swap file: {e.Message}");
        }
    }
}
