using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Dispatch;
using VmmSwap.Native.Events;
using VmmSwap.Native.Interop;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// An Akka executor with one OS thread that waits in epoll on every watched userfaultfd plus a
/// wake eventfd. Work for actors on this dispatcher (their mailbox runs) is queued and run on
/// this thread; work queued from other threads rings the eventfd. When a userfaultfd becomes
/// readable its watcher drains it and tells the PageHandler, whose mailbox run is queued on this
/// same thread and runs next: no thread hop between reading a fault and serving it. Between any
/// two queued runs the loop polls epoll again, so new faults are read before more queued work.
/// With nothing queued it polls for an <see cref="AdaptivePollWindow"/> before it sleeps in epoll
/// (docs/ARCHITECTURE.md, "Adaptive polling").
/// </summary>
internal sealed class FaultPumpExecutor : ExecutorService
{
    private const ulong WakeToken = 0;

    [ThreadStatic]
    private static FaultPumpExecutor? _current;

    private readonly ConcurrentQueue<IRunnable> _queue = new();
    private readonly Dictionary<ulong, Action> _watchers = [];
    private readonly Epoll _epoll = new();
    private readonly EventFd _wake = new();
    private readonly Thread _thread;
    private readonly AdaptivePollWindow _pollWindow;
    private ulong _nextToken = WakeToken + 1;
    private int _wakePending;
    private volatile bool _stopping;

    internal FaultPumpExecutor(string id, TimeSpan pollMax)
        : base(id)
    {
        _pollWindow = new AdaptivePollWindow(pollMax);
        _epoll.Add(_wake.Fd, WakeToken);
        _thread = new Thread(Loop) { IsBackground = true, Name = $"vmm-swap fault pump ({id})" };
        _thread.Start();
    }

    /// <summary>The executor whose thread is the calling thread, or null on any other thread.</summary>
    internal static FaultPumpExecutor? Current => _current;

    /// <inheritdoc />
    public override void Execute(IRunnable run)
    {
        _queue.Enqueue(run);
        if (Thread.CurrentThread != _thread && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _wake.Signal();
        }
    }

    /// <inheritdoc />
    public override void Shutdown()
    {
        _stopping = true;
        _wake.Signal();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    /// <summary>Calls <paramref name="onReadable"/> on the pump thread whenever <paramref name="fd"/> is readable. Pump thread only.</summary>
    internal ulong Watch(SafeFd fd, Action onReadable)
    {
        RequirePumpThread();
        var token = _nextToken++;
        _epoll.Add(fd, token);
        _watchers[token] = onReadable;
        return token;
    }

    /// <summary>Stops watching <paramref name="fd"/>. Pump thread only.</summary>
    internal void Unwatch(ulong token, SafeFd fd)
    {
        RequirePumpThread();
        if (_watchers.Remove(token) && !fd.IsClosed)
        {
            _epoll.Remove(fd);
        }
    }

    private void RequirePumpThread()
    {
        if (Thread.CurrentThread != _thread)
        {
            throw new InvalidOperationException("userfaultfd watches are changed only on the fault pump thread");
        }
    }

    // Polls for the window, then sleeps; the window adapts to how long the thread was idle.
    private int WaitIdle(Span<ulong> ready)
    {
        var start = Stopwatch.GetTimestamp();
        var n = 0;
        if (_pollWindow.WindowTicks > 0)
        {
            var end = start + _pollWindow.WindowTicks;
            do
            {
                n = _epoll.Wait(ready, 0);
            }
            while (n == 0 && _queue.IsEmpty && Stopwatch.GetTimestamp() < end);
        }

        if (n == 0 && _queue.IsEmpty)
        {
            n = _epoll.Wait(ready, -1);
        }

        _pollWindow.Idled(Stopwatch.GetTimestamp() - start, fault: ready[..n].IndexOfAnyExcept(WakeToken) >= 0);
        return n;
    }

    private void Loop()
    {
        _current = this;
        Span<ulong> ready = stackalloc ulong[16];
        try
        {
            while (!_stopping)
            {
                var n = _queue.IsEmpty ? WaitIdle(ready) : _epoll.Wait(ready, 0);
                foreach (var token in ready[..n])
                {
                    if (token == WakeToken)
                    {
                        _wake.Reset();
                        Volatile.Write(ref _wakePending, 0);
                    }
                    else if (_watchers.TryGetValue(token, out var onReadable))
                    {
                        onReadable();
                    }
                }

                if (_queue.TryDequeue(out var run))
                {
                    run.Run();
                }
            }
        }
        finally
        {
            _epoll.Dispose();
            _wake.Dispose();
        }
    }
}
