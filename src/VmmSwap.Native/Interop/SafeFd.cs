using System.Runtime.InteropServices;

namespace VmmSwap.Native.Interop;

/// <summary>An owned Linux file descriptor, closed exactly once.</summary>
public sealed class SafeFd : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public SafeFd(int fd)
        : base(-1, ownsHandle: true) => SetHandle(fd);

    /// <inheritdoc />
    public override bool IsInvalid => handle < 0;

    /// <summary>
    /// The raw descriptor. Throws <see cref="ObjectDisposedException"/> once closed, so a use after
    /// close names the cause instead of reaching an unrelated descriptor that reused the number.
    /// </summary>
    public int Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle;
        }
    }

    /// <summary>Wraps the result of a call that returns a descriptor or -1.</summary>
    internal static SafeFd Check(int fd, string call, string? detail = null) =>
        fd < 0 ? throw NativeCallException.FromLastError(call, detail) : new SafeFd(fd);

    /// <inheritdoc />
    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
