using System.Diagnostics;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// A guest thread: reads, writes and balloon-removes the pages it alone owns, all the time, through
/// <see cref="GuestMemory"/> only, checking every read against the <see cref="PageReference"/>.
/// It parks at the <see cref="GuestGate"/> between accesses, and sweeps all its pages when the
/// cycle check asks. Each access is timed, so that a watchdog can tell a hang from slowness.
/// </summary>
public sealed class SoakVcpu
{
    // Out of 100 accesses: reads, then writes, the rest balloon removes. Removes are rare, as a
    // balloon's are, but frequent enough that each cycle has some while enabled.
    private const int ReadPercent = 55;
    private const int WritePercent = 42;

    // A short sleep every this many accesses: a guest that spins takes the cores the fault
    // thread and page workers need, and the soak would measure starvation instead.
    private const int AccessesPerPause = 32;

    private readonly GuestMemory _guest;
    private readonly PageReference _reference;
    private readonly PageChecker _checker;
    private readonly GuestGate _gate;
    private readonly SoakCounters _counters;
    private readonly long[] _pages;
    private readonly Random _random;
    private readonly byte[] _buffer = new byte[PageSize.Bytes];
    private readonly object _sweepLock = new();
    private TaskCompletionSource? _sweep;
    private Thread? _thread;
    private volatile bool _stop;
    private volatile int _tid;
    private long _accessStarted;
    private long _accessPage;
    private string _accessKind = string.Empty;

    /// <summary>Guest thread <paramref name="id"/>, owning <paramref name="pages"/>.</summary>
    public SoakVcpu(int id, GuestMemory guest, PageReference reference, PageChecker checker, GuestGate gate, SoakCounters counters, long[] pages, int seed)
    {
        Id = id;
        _guest = guest;
        _reference = reference;
        _checker = checker;
        _gate = gate;
        _counters = counters;
        _pages = pages;
        _random = new Random(unchecked((seed * 7919) + id));
    }

    /// <summary>The thread's number.</summary>
    public int Id { get; }

    /// <summary>When the access in progress started (Stopwatch ticks), or 0 when between accesses.</summary>
    public long AccessStarted => Interlocked.Read(ref _accessStarted);

    /// <summary>Where in the kernel the thread waits now (its /proc wchan), for a hang report.</summary>
    public string WaitChannel => SoakThreads.WaitChannel(Environment.ProcessId, _tid);

    /// <summary>The access in progress (or the last one), for a hang report.</summary>
    public string Access => $"guest thread {Id} {Volatile.Read(ref _accessKind)} of page {Interlocked.Read(ref _accessPage)}";

    /// <summary>Starts the thread.</summary>
    public void Start()
    {
        // Background: should a fault never be served, the process can still exit and report it.
        _thread = new Thread(Loop) { IsBackground = true, Name = $"soak-vcpu-{Id}" };
        _thread.Start();
    }

    /// <summary>Stops the thread; false when it did not stop within <paramref name="deadline"/> (stuck in an access).</summary>
    public bool Stop(TimeSpan deadline)
    {
        _stop = true;
        return _thread?.Join(deadline) ?? true;
    }

    /// <summary>Completes once the thread has checked every page it owns, the next time it is between accesses.</summary>
    public Task SweepAsync()
    {
        lock (_sweepLock)
        {
            _sweep ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _sweep.Task;
        }
    }

    private void Loop()
    {
        _tid = SoakThreads.CurrentTid();
        var accesses = 0;
        while (!_stop)
        {
            try
            {
                Step(ref accesses);
            }
            catch (Exception e) when (e is NativeCallException or ArgumentException)
            {
                // A call that failed, not a page that came back wrong: reported, and the thread goes on.
                End();
                _counters.Error(SoakErrorKind.GuestAccess, $"{Access}: {e.Message}");
            }
        }
    }

    private void Step(ref int accesses)
    {
        _gate.Checkpoint();
        TaskCompletionSource? sweep;
        lock (_sweepLock)
        {
            sweep = _sweep;
            _sweep = null;
        }

        if (sweep is not null)
        {
            try
            {
                foreach (var page in _pages)
                {
                    Read(page, CheckedBy.CycleCheck);
                }
            }
            finally
            {
                // An access that failed midway is reported as an error; the check must not wait for it.
                sweep.SetResult();
            }

            return;
        }

        var choice = _random.Next(100);
        var p = _pages[_random.Next(_pages.Length)];
        if (choice < ReadPercent)
        {
            Read(p, CheckedBy.GuestRead);
        }
        else if (choice < ReadPercent + WritePercent)
        {
            Write(p);
        }
        else
        {
            Remove(p);
        }

        if (++accesses % AccessesPerPause == 0)
        {
            Thread.Sleep(1);
        }
    }

    private void Read(long page, CheckedBy by)
    {
        Begin("read", page);
        var intact = _checker.Check(page, by);
        End();
        if (by == CheckedBy.GuestRead)
        {
            _counters.Read();
        }

        if (!intact)
        {
            // Written afresh, so that the page's next loss is found as one too, not as the old one again.
            Write(page);
        }
    }

    private void Write(long page)
    {
        var version = _reference.Version(page) + 1;
        PageContent.Fill(_reference.Seed, page, version, _buffer);
        Begin("write", page);
        _guest.Write(_guest.PageAddress(page), _buffer);
        End();
        _reference.Written(page, version, GuestMemory.ChecksumOf(_buffer));
        _counters.Written();
    }

    private void Remove(long page)
    {
        Begin("remove", page);
        _guest.Remove(_guest.PageAddress(page), (ulong)PageSize.Bytes);
        End();
        _reference.Removed(page);
        _counters.Removed();
    }

    private void Begin(string kind, long page)
    {
        Volatile.Write(ref _accessKind, kind);
        Interlocked.Exchange(ref _accessPage, page);
        Interlocked.Exchange(ref _accessStarted, Stopwatch.GetTimestamp());
    }

    private void End() => Interlocked.Exchange(ref _accessStarted, 0);
}
