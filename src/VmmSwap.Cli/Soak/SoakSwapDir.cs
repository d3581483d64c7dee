using System.Diagnostics;
using System.Globalization;
using VmmSwap.Native.Files;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// The runtime's swap directory for the soak: a small tmpfs mounted (as root) on a fresh directory,
/// so that it can be made to fill up mid-run with a filler file without touching any real disk.
/// Where it cannot be mounted, the directory given is used as it is and the fault is not available.
/// </summary>
public sealed class SoakSwapDir : IDisposable
{
    // Room for the swap file of the whole guest twice over, plus some: a full swap-out must never
    // run out of space unless the soak makes it.
    private const ulong HeadroomBytes = 4 << 20;

    private readonly string? _mountPoint;

    private SoakSwapDir(string path, string? mountPoint, string method, bool canFill)
    {
        Path = path;
        _mountPoint = mountPoint;
        Method = method;
        CanFill = canFill;
    }

    /// <summary>The directory the runtime's swap file goes in.</summary>
    public string Path { get; }

    /// <summary>How the swap dir fills up, or "not available (why)".</summary>
    public string Method { get; }

    /// <summary>True when <see cref="Fill"/> can make it run out of space.</summary>
    public bool CanFill { get; }

    /// <summary>Mounts a tmpfs for a guest of <paramref name="guestBytes"/> on a new directory in <paramref name="parent"/>.</summary>
    public static SoakSwapDir Create(string parent, ulong guestBytes)
    {
        var size = (2 * guestBytes) + HeadroomBytes;
        var mountPoint = System.IO.Path.Combine(parent, $"vmm-swap-soak-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(mountPoint);
        var kib = (size / 1024).ToString(CultureInfo.InvariantCulture);
        var (ok, output) = Run("mount", "-t", "tmpfs", "-o", $"size={kib}k,mode=0700", "vmm-swap-soak", mountPoint);
        if (!ok)
        {
            Directory.Delete(mountPoint);
            return new SoakSwapDir(parent, null, $"not available (mount -t tmpfs failed: {output}; it needs root)", canFill: false);
        }

        return new SoakSwapDir(mountPoint, mountPoint, $"a {kib} KiB tmpfs (mount -t tmpfs -o size={kib}k) filled by a filler file before a swap-out, leaving a sixteenth of the guest free", canFill: true);
    }

    /// <summary>
    /// Fills the swap dir's file system until <paramref name="leaveFreeBytes"/> are left, with an
    /// unnamed file (O_TMPFILE) that frees its space when the returned handle is disposed.
    /// </summary>
    public IDisposable Fill(ulong leaveFreeBytes)
    {
        if (!CanFill)
        {
            throw new InvalidOperationException($"the swap dir {Path} cannot be filled: {Method}");
        }

        var filler = TmpFile.Create(Path);
        try
        {
            var chunk = new byte[1 << 20];
            long offset = 0;
            while (FreeBytes() > leaveFreeBytes + (ulong)chunk.Length)
            {
                FileOps.WriteAll(filler, chunk, offset);
                offset += chunk.Length;
            }

            return filler;
        }
        catch
        {
            filler.Dispose();
            throw;
        }
    }

    /// <summary>Unmounts the tmpfs and removes its directory.</summary>
    public void Dispose()
    {
        if (_mountPoint is not null)
        {
            var (ok, _) = Run("umount", _mountPoint);
            if (ok)
            {
                Directory.Delete(_mountPoint);
            }
        }
    }

    private ulong FreeBytes() => (ulong)new DriveInfo(Path).AvailableFreeSpace;

    private static (bool Ok, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode == 0, error.Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (false, $"{program}: {e.Message}");
        }
    }
}
