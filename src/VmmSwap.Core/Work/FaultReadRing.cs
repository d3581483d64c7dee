using System.Diagnostics;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Rings;

namespace VmmSwap.Core.Work;

/// <summary>
/// Fault reads started from the fault thread itself on an io_uring, instead of handed to a
/// reader thread: the fault thread submits the pread and goes on serving, the kernel completes it
/// (as task work of that same thread when the disk had to be waited for), and the ring's eventfd
/// (<see cref="CompletionFd"/>) tells the fault thread's epoll loop to <see cref="Reap"/> it. No
/// thread is woken to run the read, and none to hand its result back: both waited for a CPU that
/// the fault thread's own copies kept busy (docs/ARCHITECTURE.md, "A file fault that needs the disk").
/// Owned by the fault thread: every call but <see cref="Dispose"/> comes from it.
/// </summary>
public sealed class FaultReadRing : IDisposable
{
    // Reads in flight at most: the kernel's completion queue holds twice the submission entries, so
    // a completion never waits in its overflow list, which only a call into the ring would flush.
    private const int Entries = 64;

    private readonly IoUring _ring;
    private readonly Dictionary<ulong, FaultRead> _inFlight = [];
    private readonly List<FaultReadCompletion> _completed = [];
    private ulong _lastTag;

    private FaultReadRing(IoUring ring) => _ring = ring;

    /// <summary>The ring itself, which a <see cref="FaultRead"/> is started on.</summary>
    internal IoUring Ring => _ring;

    /// <summary>Readable once a read has completed, until <see cref="ClearCompletionSignal"/>.</summary>
    public SafeFd CompletionFd => _ring.CompletionFd;

    /// <summary>Makes <see cref="CompletionFd"/> unreadable until the next completion: call before <see cref="Reap"/>.</summary>
    public void ClearCompletionSignal() => _ring.ClearCompletionSignal();

    /// <summary>Reads started and not yet reaped.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>Whether another read may start: false while <see cref="InFlight"/> is at the ring's bound (64).</summary>
    public bool HasRoom => _inFlight.Count < Entries;

    /// <summary>
    /// Sets up the ring. Throws <see cref="NativeCallException"/> naming io_uring_setup when the
    /// kernel has no io_uring or refuses it (kernel.io_uring_disabled, a seccomp filter); the
    /// caller then reads on threads instead.
    /// </summary>
    public static FaultReadRing Create() => new(IoUring.Create(Entries));

    /// <summary>
    /// Starts <paramref name="read"/>; false when it was cancelled first (its page state closed
    /// while it waited to start). Throws when the kernel would not take it: the read is then
    /// over, and its faults are to be served without it.
    /// </summary>
    public bool Start(FaultRead read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var tag = ++_lastTag;
        if (!read.StartOn(this, tag))
        {
            return false;
        }

        _inFlight.Add(tag, read);
        return true;
    }

    /// <summary>Every read completed since the last call, oldest first.</summary>
    public IReadOnlyList<FaultReadCompletion> Reap()
    {
        Collect();
        if (_completed.Count == 0)
        {
            return [];
        }

        var completed = _completed.ToArray();
        _completed.Clear();
        return completed;
    }

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for <paramref name="read"/> to complete, collecting
    /// any other completion meanwhile for the next <see cref="Reap"/>; false if it has not.
    /// </summary>
    internal bool WaitFor(FaultRead read, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (_inFlight.ContainsValue(read))
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            _ring.WaitForCompletion(left);
            Collect();
        }

        return true;
    }

    /// <summary>
    /// Closes the ring. The page state's owner ends its reads first (<see cref="FaultReads.Close"/>);
    /// one that would not end has its buffer left mapped there, and the kernel finishes it alone.
    /// </summary>
    public void Dispose() => _ring.Dispose();

    private void Collect()
    {
        Span<IoUringCompletion> done = stackalloc IoUringCompletion[16];
        int n;
        while ((n = _ring.Reap(done)) > 0)
        {
            foreach (var c in done[..n])
            {
                if (_inFlight.Remove(c.UserData, out var read))
                {
                    _completed.Add(new FaultReadCompletion(read, read.Completed(c.Result)));
                }
            }
        }
    }
}
