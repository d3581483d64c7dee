using VmmSwap.Native.Events;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Testing;

/// <summary>
/// A thread that waits on a userfaultfd and hands every event to a callback, until disposed.
/// Errors from the callback are kept and rethrown by <see cref="Dispose"/>, so a test sees them.
/// </summary>
public sealed class FaultServer : IDisposable
{
    private readonly Userfaultfd _uffd;
    private readonly Action<Userfaultfd, UffdEvent> _onEvent;
    private readonly Epoll _epoll = new();
    private readonly EventFd _stop = new();
    private readonly Thread _thread;
    private readonly object _gate;
    private Exception? _error;
    private int _handled;

    /// <summary>
    /// Starts serving <paramref name="uffd"/> with <paramref name="onEvent"/>. Each drain of the
    /// userfaultfd (reads and callbacks) runs under a lock on <paramref name="gate"/>, so a test
    /// that locks it too never sees an event read but not yet handled.
    /// </summary>
    public FaultServer(Userfaultfd uffd, Action<Userfaultfd, UffdEvent> onEvent, object? gate = null)
    {
        _uffd = uffd;
        _onEvent = onEvent;
        _gate = gate ?? new object();
        _epoll.Add(uffd.Fd, 1);
        _epoll.Add(_stop.Fd, 2);
        _thread = new Thread(Run) { IsBackground = true, Name = "test fault server" };
        _thread.Start();
    }

    /// <summary>Events handled so far.</summary>
    public int Handled => Volatile.Read(ref _handled);

    /// <summary>Stops the thread and rethrows the first callback error, if any.</summary>
    public void Dispose()
    {
        _stop.Signal();
        if (!_thread.Join(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("fault server thread did not stop within 10 s");
        }

        _epoll.Dispose();
        _stop.Dispose();
        if (_error is not null)
        {
            throw new InvalidOperationException("the fault server failed", _error);
        }
    }

    private void Run()
    {
        Span<ulong> tokens = stackalloc ulong[4];
        try
        {
            while (true)
            {
                var ready = _epoll.Wait(tokens, -1);
                if (tokens[..ready].Contains(2UL))
                {
                    return;
                }

                lock (_gate)
                {
                    UffdEvent[] events;
                    while ((events = _uffd.Drain(64)).Length > 0)
                    {
                        foreach (var e in events)
                        {
                            _onEvent(_uffd, e);
                            Interlocked.Increment(ref _handled);
                        }
                    }
                }
            }
        }
        catch (Exception e)
        {
            _error = e;
        }
    }
}
