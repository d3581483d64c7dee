using System.Globalization;
using VmmSwap.Native.Interop;

namespace VmmSwap.Cli.Common;

/// <summary>
/// This process's open files as the kernel lists them in /proc/self/fd. The runtime keeps its
/// staging memfd and swap file private; their descriptors are how the demo measures the memory
/// they hold without reaching into the runtime.
/// </summary>
public static class OpenFiles
{
    private const string FdDirectory = "/proc/self/fd";
    private const string DeletedSuffix = " (deleted)";

    /// <summary>Every open descriptor with the target of its /proc/self/fd link (e.g. <c>/memfd:name (deleted)</c>).</summary>
    public static IReadOnlyList<(int Fd, string Target)> List()
    {
        var open = new List<(int, string)>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(FdDirectory))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
            {
                continue;
            }

            try
            {
                if (new FileInfo(entry).LinkTarget is { } target)
                {
                    open.Add((fd, target));
                }
            }
            catch (IOException)
            {
                // Closed between listing and reading the link (the enumeration's own descriptor, for one).
            }
        }

        return open;
    }

    /// <summary>The directory an O_TMPFILE <paramref name="file"/> was created in, as the kernel names it; null if unknown.</summary>
    public static string? DirectoryOf(SafeFd file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var target = new FileInfo($"{FdDirectory}/{file.Value}").LinkTarget;
        return target is null ? null : Path.GetDirectoryName(StripDeleted(target));
    }

    /// <summary>True when <paramref name="target"/> is an unnamed (O_TMPFILE) file in <paramref name="directory"/>: the kernel shows those as <c>dir/#inode (deleted)</c>.</summary>
    public static bool IsTmpFileIn(string target, string directory)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.EndsWith(DeletedSuffix, StringComparison.Ordinal))
        {
            return false;
        }

        var path = StripDeleted(target);
        return Path.GetFileName(path).StartsWith('#') && string.Equals(Path.GetDirectoryName(path), directory, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs <paramref name="measure"/> on descriptor <paramref name="fd"/> without taking ownership:
    /// the descriptor stays the runtime's and is not closed here.
    /// </summary>
    public static long Borrow(int fd, Func<SafeFd, long> measure)
    {
        ArgumentNullException.ThrowIfNull(measure);
        var borrowed = new SafeFd(fd);
        try
        {
            return measure(borrowed);
        }
        finally
        {
            // Marks the handle released without calling close(): the owner closes it.
            borrowed.SetHandleAsInvalid();
        }
    }

    private static string StripDeleted(string target) =>
        target.EndsWith(DeletedSuffix, StringComparison.Ordinal) ? target[..^DeletedSuffix.Length] : target;
}
