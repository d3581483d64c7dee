using System.Runtime.InteropServices;

namespace VmmSwap.Native.Interop;

/// <summary>A Linux call failed; the message names the call, the errno and what it means.</summary>
public class NativeCallException : IOException
{
    /// <summary>Creates an exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public NativeCallException(string call, int errno, string? detail = null)
        : base(Format(call, errno, detail))
    {
        Call = call;
        Errno = errno;
        HResult = errno;
    }

    /// <summary>The call that failed, with the arguments that identify it, e.g. <c>ioctl(UFFDIO_COPY)</c>.</summary>
    public string Call { get; }

    /// <summary>The errno value the call left.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name, e.g. <c>EEXIST</c>.</summary>
    public string ErrnoName => ErrnoNames.Of(Errno);

    /// <summary>Whether the call refused its arguments (EINVAL), e.g. a direct read whose alignment the device does not take.</summary>
    public bool IsInvalidArgument => Errno == Libc.EINVAL;

    /// <summary>Whether the file system was full: ENOSPC, or EDQUOT (122) for a quota.</summary>
    public bool IsDiskFull => Errno is Libc.ENOSPC or 122;

    /// <summary>Throws a <see cref="NativeCallException"/> for the last P/Invoke error of <paramref name="call"/>.</summary>
    internal static NativeCallException FromLastError(string call, string? detail = null) =>
        new(call, Marshal.GetLastPInvokeError(), detail);

    private static string Format(string call, int errno, string? detail)
    {
        var text = $"{call} failed: {ErrnoNames.Of(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";
        return detail is null ? text : $"{text}; {detail}";
    }
}
