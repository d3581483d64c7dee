using System.Diagnostics;

namespace VmmSwap.Testing;

/// <summary>
/// An ext4 file system that believes it has room but whose disk is full underneath: a loop
/// device over a sparse image on a tiny tmpfs. Writes land in the page cache and fail at
/// writeback, which only the next fdatasync reports (ENOSPC or EIO), as on a thin-provisioned or
/// failing disk. Needs root (mount, losetup, mkfs.ext4).
/// </summary>
public sealed class FullDisk : IDisposable
{
    private readonly string _root;
    private readonly string _backing;
    private readonly string? _loop;

    /// <summary>Mounts it; <see cref="Directory"/> is an empty directory on it.</summary>
    public FullDisk(string imageSize = "256M", string backingSize = "8m")
    {
        _root = System.IO.Directory.CreateTempSubdirectory("vmm-swap-full-disk-").FullName;
        _backing = Path.Combine(_root, "backing");
        Directory = Path.Combine(_root, "fs");
        System.IO.Directory.CreateDirectory(_backing);
        System.IO.Directory.CreateDirectory(Directory);
        try
        {
            Run("mount", "-t", "tmpfs", "-o", $"size={backingSize}", "none", _backing);
            var image = Path.Combine(_backing, "disk.img");
            Run("truncate", "-s", imageSize, image);
            _loop = Run("losetup", "-f", "--show", image).Trim();
            // No journal: the image must fit the tiny backing store, and the failure stays a data write failure.
            Run("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-E", "lazy_itable_init=1", _loop);
            Run("mount", _loop, Directory);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A directory on the full disk.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        TryRun("umount", "-l", Directory);
        if (_loop is not null)
        {
            TryRun("losetup", "-d", _loop);
        }

        TryRun("umount", "-l", _backing);
        try
        {
            System.IO.Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A lazy unmount may still hold it; the temp directory is left behind.
        }
    }

    private static string Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"{command} {string.Join(' ', args)} failed ({process.ExitCode}): {error.Trim()}; a full-disk test needs root with CAP_SYS_ADMIN, loop devices and mkfs.ext4");
    }

    private static void TryRun(string command, params string[] args)
    {
        try
        {
            Run(command, args);
        }
        catch (InvalidOperationException)
        {
            // Best effort: a failed set-up leaves less to undo.
        }
    }
}
