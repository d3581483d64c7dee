using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Events;

/// <summary>An epoll instance watching descriptors for readability, each tagged with a caller token.</summary>
public sealed unsafe class Epoll : IDisposable
{
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const uint EpollIn = 0x001;

    /// <summary>Creates the epoll instance.</summary>
    public Epoll() => Fd = SafeFd.Check(Libc.EpollCreate1(Libc.EPOLL_CLOEXEC), "epoll_create1");

    /// <summary>The epoll descriptor.</summary>
    public SafeFd Fd { get; }

    /// <summary>Watches <paramref name="fd"/> for input (level-triggered); readiness reports <paramref name="token"/>.</summary>
    public void Add(SafeFd fd, ulong token)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var ev = new Libc.EpollEvent { Events = EpollIn, Data = token };
        if (Libc.EpollCtl(Fd.Value, EpollCtlAdd, fd.Value, &ev) < 0)
        {
            throw NativeCallException.FromLastError("epoll_ctl(ADD)", $"fd {fd.Value}");
        }
    }

    /// <summary>Stops watching <paramref name="fd"/>.</summary>
    public void Remove(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.EpollCtl(Fd.Value, EpollCtlDel, fd.Value, null) < 0)
        {
            throw NativeCallException.FromLastError("epoll_ctl(DEL)", $"fd {fd.Value}");
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (-1: forever) and writes the tokens of ready
    /// descriptors to <paramref name="tokens"/>; returns how many. An interrupted wait returns 0.
    /// </summary>
    public int Wait(Span<ulong> tokens, int timeoutMs)
    {
        var max = Math.Min(tokens.Length, 64);
        var events = stackalloc Libc.EpollEvent[max];
        var n = Libc.EpollWait(Fd.Value, events, max, timeoutMs);
        if (n < 0)
        {
            return Marshal.GetLastPInvokeError() == Libc.EINTR ? 0 : throw NativeCallException.FromLastError("epoll_wait");
        }

        for (var i = 0; i < n; i++)
        {
            tokens[i] = events[i].Data;
        }

        return n;
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();
}
