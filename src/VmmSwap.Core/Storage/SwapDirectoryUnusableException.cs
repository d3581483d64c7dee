using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Storage;

/// <summary>
/// The swap directory cannot hold the swap file: <see cref="SwapDirectoryProbe"/> found a step the
/// swap file needs failing there. The message names the directory, the step, the errno by name and a fix.
/// </summary>
public sealed class SwapDirectoryUnusableException : IOException
{
    internal SwapDirectoryUnusableException(string directory, SwapDirectoryProbeStep step, NativeCallException failure)
        : this(directory, step, $"{failure.Call} failed with {failure.ErrnoName} ({Marshal.GetPInvokeErrorMessage(failure.Errno)})", FixFor(failure.ErrnoName), failure)
    {
        Errno = failure.Errno;
        ErrnoName = failure.ErrnoName;
    }

    internal SwapDirectoryUnusableException(string directory, SwapDirectoryProbeStep step, string detail, string fix, Exception? inner = null)
        : base($"swap directory '{directory}' cannot hold the swap file: {Describe(step)}, {detail}; {fix}", inner)
    {
        Directory = directory;
        Step = step;
        Cause = $"{Describe(step)}, {detail}";
        Fix = fix;
    }

    /// <summary>The directory refused, as given.</summary>
    public string Directory { get; }

    /// <summary>The step that failed.</summary>
    public SwapDirectoryProbeStep Step { get; }

    /// <summary>The errno of the failed call; null when the calls succeeded but the file read back wrong bytes.</summary>
    public int? Errno { get; }

    /// <summary>The symbolic name of <see cref="Errno"/>, e.g. <c>EOPNOTSUPP</c>; null when <see cref="Errno"/> is.</summary>
    public string? ErrnoName { get; }

    /// <summary>What failed: the step, the call and the errno.</summary>
    public string Cause { get; }

    /// <summary>What to do instead.</summary>
    public string Fix { get; }

    private static string Describe(SwapDirectoryProbeStep step) => step switch
    {
        SwapDirectoryProbeStep.CreateFile => "creating an O_TMPFILE file in it",
        SwapDirectoryProbeStep.Write => "writing to that file",
        SwapDirectoryProbeStep.Map => "mapping the file",
        SwapDirectoryProbeStep.ReadThroughMapping => "reading the file through its mapping",
        SwapDirectoryProbeStep.PunchHole => "punching a hole in the file",
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, null),
    };

    private static string FixFor(string errnoName) => errnoName switch
    {
        "ENOENT" => "create the directory or choose an existing one",
        "ENOTDIR" => "choose a directory, not a file",
        "EACCES" or "EPERM" => "give this process write permission on it or choose another directory",
        "EROFS" => "its file system is mounted read-only; choose a writable directory on ext4, xfs, btrfs or tmpfs",
        "ENOSPC" or "EDQUOT" => "free space on its file system or choose another directory",
        _ => "use a directory on ext4, xfs, btrfs or tmpfs",
    };
}
