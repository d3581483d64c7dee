namespace VmmSwap.Native.Processes;

/// <summary>
/// A cgroup v2 directory cannot be used to freeze processes, or a file of it cannot be read or
/// written: the message names the path and what to do about it.
/// </summary>
public sealed class CgroupException : IOException
{
    /// <summary>Creates an exception about <paramref name="path"/>.</summary>
    public CgroupException(string path, string message, Exception? inner = null)
        : base($"{path}: {message}", inner)
    {
        Path = path;
    }

    /// <summary>The cgroup directory or file concerned.</summary>
    public string Path { get; }
}
