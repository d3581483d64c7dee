using Microsoft.Win32.SafeHandles;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Testing;

/// <summary>
/// The runtime's swap file (an O_TMPFILE, so nameless) found through /proc/self/fd by its
/// directory, for tests that measure it or damage it behind the runtime's back.
/// </summary>
public static class SwapFileOnDisk
{
    /// <summary>A new descriptor of the one swap file open in <paramref name="directory"/>.</summary>
    public static SafeFileHandle Open(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) + "/#";
        // The runtime holds each swap file twice (its own descriptor and the swap-in's direct one):
        // one file is one link target, "#<inode> (deleted)".
        var matches = new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Select(link => (link.FullName, Target: TargetOf(link)))
            .Where(l => l.Target is not null && l.Target.StartsWith(prefix, StringComparison.Ordinal))
            .DistinctBy(l => l.Target)
            .ToList();
        return matches.Count == 1
            ? File.OpenHandle(matches[0].FullName, FileMode.Open, FileAccess.ReadWrite)
            : throw new InvalidOperationException($"expected one swap file open in {directory}, found {matches.Count}");
    }

    /// <summary>Bytes of the swap file in <paramref name="directory"/> resident in the page cache.</summary>
    public static long CachedBytes(string directory)
    {
        using var handle = Open(directory);
        using var fd = new SafeFd((int)handle.DangerousGetHandle());
        handle.SetHandleAsInvalid();
        return PageCache.ResidentBytes(fd);
    }

    private static string? TargetOf(FileSystemInfo link)
    {
        try
        {
            return link.LinkTarget;
        }
        catch (IOException)
        {
            // The descriptor closed while listing.
            return null;
        }
    }
}
