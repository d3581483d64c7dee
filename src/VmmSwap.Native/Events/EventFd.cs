using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Events;

/// <summary>A non-blocking eventfd counter, used to wake an epoll loop from another thread.</summary>
public sealed unsafe class EventFd : IDisposable
{
    /// <summary>Creates a non-blocking eventfd with counter 0.</summary>
    public EventFd() => Fd = SafeFd.Check(Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");

    /// <summary>The descriptor, for epoll.</summary>
    public SafeFd Fd { get; }

    /// <summary>Adds 1 to the counter, making the descriptor readable.</summary>
    public void Signal()
    {
        ulong one = 1;
        if (Libc.Write(Fd.Value, &one, sizeof(ulong)) < 0 && Marshal.GetLastPInvokeError() != Libc.EAGAIN)
        {
            throw NativeCallException.FromLastError("write(eventfd)");
        }
    }

    /// <summary>Reads and resets the counter; returns 0 if it was not signalled.</summary>
    public ulong Reset()
    {
        ulong value = 0;
        if (Libc.Read(Fd.Value, &value, sizeof(ulong)) < 0)
        {
            return Marshal.GetLastPInvokeError() == Libc.EAGAIN ? 0UL : throw NativeCallException.FromLastError("read(eventfd)");
        }

        return value;
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();
}
