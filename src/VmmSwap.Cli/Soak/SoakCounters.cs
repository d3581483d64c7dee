using System.Collections.Concurrent;
using VmmSwap.Actors;

namespace VmmSwap.Cli.Soak;

/// <summary>Everything the soak counts, updated from every thread at once.</summary>
public sealed class SoakCounters
{
    // Lost pages kept in full (the first finding of each); beyond these only the counts grow (a
    // badly broken runtime could otherwise fill the heap with them, and the leak check with it).
    private const int LostPagesKept = 1000;

    private readonly long[,] _commands = new long[Enum.GetValues<CommandKind>().Length, Enum.GetValues<CommandResult>().Length];
    private readonly ConcurrentDictionary<(CommandKind Kind, string Reason), long> _failures = new();
    private readonly long[] _checked = new long[Enum.GetValues<CheckedBy>().Length];
    private readonly long[] _lostBy = new long[Enum.GetValues<CheckedBy>().Length];
    private readonly ConcurrentQueue<LostPage> _lost = new();
    private readonly ConcurrentDictionary<long, byte> _lostPages = new();
    private readonly ConcurrentQueue<SoakHang> _hangs = new();
    private readonly ConcurrentQueue<SoakError> _errors = new();
    private readonly ConcurrentDictionary<(bool Accepted, SwapState State), long> _attaches = new();
    private readonly int[,] _faults = new int[Enum.GetValues<FaultKind>().Length, 3];
    private long _lossEvents;
    private long _lostReadOnly;
    private long _reads;
    private long _writes;
    private long _removes;
    private long _exited;
    private long _killed;
    private volatile int _cycle;

    /// <summary>The cycle running now (1-based), stamped on what is found in it.</summary>
    public int Cycle
    {
        get => _cycle;
        set => _cycle = value;
    }

    /// <summary>Distinct pages found lost.</summary>
    public int LostPages => _lostPages.Count;

    /// <summary>Times a page was found wrong (a page found wrong twice counts twice).</summary>
    public long LossEvents => Interlocked.Read(ref _lossEvents);

    /// <summary>Distinct lost pages that no guest thread writes (only the second process and the cycle checks read them).</summary>
    public long LostReadOnly => Interlocked.Read(ref _lostReadOnly);

    /// <summary>The first finding of each lost page, in the order found.</summary>
    public IReadOnlyList<LostPage> Lost => [.. _lost];

    /// <summary>Distinct lost pages first found by <paramref name="by"/>.</summary>
    public long LostFirstBy(CheckedBy by) => Interlocked.Read(ref _lostBy[(int)by]);

    /// <summary>Deadlines missed.</summary>
    public IReadOnlyList<SoakHang> Hangs => [.. _hangs];

    /// <summary>Parts of the soak that could not run.</summary>
    public IReadOnlyList<SoakError> Errors => [.. _errors];

    /// <summary>Guest reads (each checked).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Guest page writes.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Balloon removes (MADV_REMOVE of one page).</summary>
    public long Removes => Interlocked.Read(ref _removes);

    /// <summary>Second processes told to exit that did.</summary>
    public long Exited => Interlocked.Read(ref _exited);

    /// <summary>Second processes SIGKILLed.</summary>
    public long Killed => Interlocked.Read(ref _killed);

    /// <summary>Records what became of a command.</summary>
    public void Command(CommandKind kind, CommandResult result, string? reason = null)
    {
        Interlocked.Increment(ref _commands[(int)kind, (int)result]);
        if (result == CommandResult.Failed && reason is not null)
        {
            _failures.AddOrUpdate((kind, reason), 1, (_, n) => n + 1);
        }
    }

    /// <summary>Commands of <paramref name="kind"/> that ended in <paramref name="result"/>.</summary>
    public long Commands(CommandKind kind, CommandResult result) => Interlocked.Read(ref _commands[(int)kind, (int)result]);

    /// <summary>The reasons commands failed for, with how often.</summary>
    public IReadOnlyList<(CommandKind Kind, string Reason, long Count)> Failures =>
        [.. _failures.OrderByDescending(f => f.Value).Select(f => (f.Key.Kind, f.Key.Reason, f.Value))];

    /// <summary>Counts a page read and compared with the reference.</summary>
    public void PageChecked(CheckedBy by, long pages = 1) => Interlocked.Add(ref _checked[(int)by], pages);

    /// <summary>Pages checked by <paramref name="by"/>.</summary>
    public long Checked(CheckedBy by) => Interlocked.Read(ref _checked[(int)by]);

    /// <summary>Records a page found wrong.</summary>
    public void PageLost(LostPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        Interlocked.Increment(ref _lossEvents);
        if (!_lostPages.TryAdd(page.Page, 0))
        {
            return;
        }

        Interlocked.Increment(ref _lostBy[(int)page.FoundBy]);
        if (SoakLayout.IsReadOnly(page.Page))
        {
            Interlocked.Increment(ref _lostReadOnly);
        }

        if (_lostPages.Count <= LostPagesKept)
        {
            _lost.Enqueue(page);
        }
    }

    /// <summary>Records a missed deadline.</summary>
    public void Hang(HangKind kind, string what, TimeSpan deadline) => _hangs.Enqueue(new SoakHang(kind, what, Cycle, deadline.TotalSeconds));

    /// <summary>Records a part of the soak that could not run.</summary>
    public void Error(SoakErrorKind kind, string message) => _errors.Enqueue(new SoakError(kind, message, Cycle));

    /// <summary>Counts a guest read.</summary>
    public void Read() => Interlocked.Increment(ref _reads);

    /// <summary>Counts a guest write.</summary>
    public void Written() => Interlocked.Increment(ref _writes);

    /// <summary>Counts a balloon remove.</summary>
    public void Removed() => Interlocked.Increment(ref _removes);

    /// <summary>Records the reply to a ProcessForked: accepted or refused, in the state the reply reported.</summary>
    public void Attach(bool accepted, SwapState state) => _attaches.AddOrUpdate((accepted, state), 1, (_, n) => n + 1);

    /// <summary>Attaches accepted (true) or refused (false) in each state.</summary>
    public IReadOnlyDictionary<(bool Accepted, SwapState State), long> Attaches => new Dictionary<(bool, SwapState), long>(_attaches);

    /// <summary>Counts a second process detached by exiting (false) or by SIGKILL (true).</summary>
    public void Detached(bool killed)
    {
        if (killed)
        {
            Interlocked.Increment(ref _killed);
        }
        else
        {
            Interlocked.Increment(ref _exited);
        }
    }

    /// <summary>Counts an injected fault.</summary>
    public void Injected(FaultKind kind) => Interlocked.Increment(ref _faults[(int)kind, 0]);

    /// <summary>Counts an injected fault that was seen to bite.</summary>
    public void TookEffect(FaultKind kind) => Interlocked.Increment(ref _faults[(int)kind, 1]);

    /// <summary>Counts an injected fault the runtime came through.</summary>
    public void Survived(FaultKind kind) => Interlocked.Increment(ref _faults[(int)kind, 2]);

    /// <summary>Injected, took effect, survived, for <paramref name="kind"/>.</summary>
    public (int Injected, int TookEffect, int Survived) Fault(FaultKind kind) =>
        (Volatile.Read(ref _faults[(int)kind, 0]), Volatile.Read(ref _faults[(int)kind, 1]), Volatile.Read(ref _faults[(int)kind, 2]));
}
