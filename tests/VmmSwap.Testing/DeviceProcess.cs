using System.Diagnostics;
using System.Globalization;

namespace VmmSwap.Testing;

/// <summary>
/// tools/device-process/device_process.c, built with cc and run: a device process that maps the
/// guest memfds (opened through /proc/PID/fd of this process) at addresses of its own, attaches
/// its own userfaultfd over the control socket, and reads and writes pages on command.
/// </summary>
public sealed class DeviceProcess : IDisposable
{
    private static readonly Lazy<string> Binary = new(() =>
    {
        var binary = CProgram.Build(Path.Combine(CProgram.RepositoryRoot(), "tools", "device-process", "device_process.c"), "-O2", "-Wall", "-Wextra");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(Path.GetDirectoryName(binary)!, recursive: true);
        return binary;
    });

    private readonly Process _process;

    private DeviceProcess(Process process, IReadOnlyList<nint> mappedAt)
    {
        _process = process;
        MappedAt = mappedAt;
    }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Where it mapped each guest region.</summary>
    public IReadOnlyList<nint> MappedAt { get; }

    /// <summary>
    /// Starts one for the guest regions <paramref name="regions"/> (a memfd of this process, its
    /// offset, its size, in the guest's order) against the control socket at <paramref name="socket"/>
    /// and waits until it is attached; throws with its stderr if it was refused.
    /// </summary>
    public static DeviceProcess Start(string socket, IEnumerable<(int MemFd, long Offset, ulong Size)> regions, bool freeze = false, string? guestId = null)
    {
        ArgumentNullException.ThrowIfNull(regions);
        return Start(socket, regions.Select(r => FormattableString.Invariant($"/proc/{Environment.ProcessId}/fd/{r.MemFd}:{r.Offset}:{r.Size}")), freeze, guestId);
    }

    /// <summary>As the other Start, with each region given as device_process takes it: MEMFD:OFFSET:SIZE (e.g. as a demo prints them).</summary>
    public static DeviceProcess Start(string socket, IEnumerable<string> regionSpecs, bool freeze = false, string? guestId = null)
    {
        ArgumentNullException.ThrowIfNull(regionSpecs);
        var args = new List<string> { socket };
        if (guestId is not null)
        {
            args.AddRange(["--guest", guestId]);
        }

        if (freeze)
        {
            args.Add("--freeze");
        }

        args.AddRange(regionSpecs);
        var process = Process.Start(new ProcessStartInfo(Binary.Value, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("device_process did not start");
        var line = process.StandardOutput.ReadLine();
        if (line is null || !line.StartsWith("attached ", StringComparison.Ordinal))
        {
            process.WaitForExit();
            var errors = process.StandardError.ReadToEnd();
            process.Dispose();
            throw new InvalidOperationException($"device_process exited {process.ExitCode}: {errors.Trim()}");
        }

        return new DeviceProcess(process, [.. line.Split(' ').Skip(1).Select(a => (nint)long.Parse(a, CultureInfo.InvariantCulture))]);
    }

    /// <summary>The FNV-1a 64-bit hash, as device_process prints it, of a page holding <paramref name="page"/> (zeros for null).</summary>
    public static string HashOf(byte[]? page, int pageBytes)
    {
        var h = 0xcbf29ce484222325UL;
        for (var i = 0; i < pageBytes; i++)
        {
            h = (h ^ (page is null ? (byte)0 : page[i])) * 0x100000001b3UL;
        }

        return h.ToString("x16", CultureInfo.InvariantCulture);
    }

    /// <summary>The hash of guest page <paramref name="page"/> as the process reads it (it may fault).</summary>
    public string ReadPage(long page) => Command(FormattableString.Invariant($"read {page}"));

    /// <summary>Fills guest page <paramref name="page"/> with <paramref name="value"/> from the process.</summary>
    public void WritePage(long page, byte value) => Expect("ok", Command(FormattableString.Invariant($"write {page} {value}")));

    /// <summary>How many SIGCONTs the process has received.</summary>
    public int Continues => int.Parse(Command("conts"), CultureInfo.InvariantCulture);

    /// <summary>Sends detach_process; returns the runtime's reply line.</summary>
    public string Detach() => Command("detach");

    /// <summary>Closes the process's connection to the control socket; the process lives on.</summary>
    public void CloseConnection() => Expect("closed", Command("close"));

    /// <summary>SIGKILL, and waits until it is gone.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>Sends one command line and returns the answer, or throws with its stderr if it died.</summary>
    public string Command(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return _process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"device_process died on '{command}': {_process.StandardError.ReadToEnd()}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    private static void Expect(string expected, string answer)
    {
        if (answer != expected)
        {
            throw new InvalidOperationException($"device_process answered '{answer}', not '{expected}'");
        }
    }
}
