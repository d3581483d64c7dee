using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Core.Work;

/// <summary>
/// The read of a faulting swap-file page and its neighbours (one aligned block of present slots)
/// with one pread into a buffer of its own, so faults on other pages are served while the disk
/// works: started on the fault thread's io_uring (<see cref="FaultReadRing"/>), or run by
/// <see cref="PageWork.Execute"/> on any thread but the fault thread. The faults waiting for its pages are parked on it; once
/// <see cref="PageHandler.CompleteFaultRead"/> has taken it back they are served again, and its
/// pages come from the buffer for as long as each stays present in the file.
/// </summary>
public sealed class FaultRead : PageWork
{
    private readonly SwapFile _file;
    private readonly MemoryMapping _buffer;
    private readonly List<ParkedFault> _parked = [];

    // The ring the read was started on (FaultReadRing), or null while it runs (or ran) as Execute.
    private FaultReadRing? _ring;

    // One bit per page of the window: still the file's bytes for a page present in the file. A
    // page that leaves the file loses its bit, so a slot written again can never be served stale.
    private ulong _valid;

    internal FaultRead(SwapFile file, PageRange window, PageRange readAhead, PageRange? dropCache, DeferredFrees noFrees)
        : base(noFrees)
    {
        if (window.IsEmpty || window.Count > MaxPages)
        {
            throw new ArgumentOutOfRangeException(nameof(window), $"a fault read covers 1 to {MaxPages} pages, got {window}");
        }

        _file = file;
        Window = window;
        ReadAhead = readAhead;
        DropCache = dropCache;
        _buffer = MemoryMapping.MapAnonymous(PageSize.PagesToBytes(window.Count));
        _valid = window.Count == MaxPages ? ulong.MaxValue : (1UL << (int)window.Count) - 1;
    }

    /// <summary>The most pages one read covers (one bit each in its validity mask).</summary>
    public const int MaxPages = 64;

    /// <summary>The swap-file slots read.</summary>
    public PageRange Window { get; }

    /// <summary>
    /// The slots around the window whose reading into the page cache <see cref="ReadAround"/>
    /// starts, so faults near it find their page cached and are served on the fault thread at once
    /// (what the kernel's read-around does for a fault on a file mapping). Empty while a swap-in
    /// streams the file, and once faults stopped hitting what read-around brought in
    /// (<see cref="FaultReads.MaxReadAroundMisses"/>).
    /// </summary>
    public PageRange ReadAhead { get; }

    /// <summary>An older read-around block whose page cache the read drops first, so the cache faults leave behind stays bounded; null when none.</summary>
    public PageRange? DropCache { get; }

    /// <summary>Whether the read has run and been taken back, so its buffer holds the file's bytes.</summary>
    public bool Loaded { get; private set; }

    /// <summary>Whether no page of the window may be served from this read any more.</summary>
    internal bool Spent => _valid == 0;

    /// <summary>Whether slot <paramref name="index"/> lies in the window and is still valid here.</summary>
    internal bool Holds(long index) => Window.Contains(index) && (_valid & Bit(index)) != 0;

    /// <summary>The buffer address of slot <paramref name="index"/>; only for a loaded read that <see cref="Holds"/> it.</summary>
    internal nint AddressOf(long index) => _buffer.Address + (nint)PageSize.PagesToBytes(index - Window.Start);

    internal void Park(ParkedFault fault) => _parked.Add(fault);

    internal void Unpark(Userfaultfd uffd) => _parked.RemoveAll(f => ReferenceEquals(f.Uffd, uffd));

    /// <summary>Takes the faults of <paramref name="uffd"/> off this read and returns them.</summary>
    internal List<ParkedFault> TakeParked(Userfaultfd uffd)
    {
        var taken = _parked.FindAll(f => ReferenceEquals(f.Uffd, uffd));
        Unpark(uffd);
        return taken;
    }

    /// <summary>Slot <paramref name="index"/> was served, or left the file: never serve it from here again.</summary>
    internal void Invalidate(long index) => _valid &= ~Bit(index);

    internal void Invalidate(PageRange range)
    {
        var part = Window.Intersect(range);
        for (var i = part.Start; i < part.End; i++)
        {
            Invalidate(i);
        }
    }

    /// <summary>Marks the read loaded (or, when it failed, spent) and hands back the faults parked on it.</summary>
    internal List<ParkedFault> Complete(bool succeeded)
    {
        Loaded = succeeded;
        if (!succeeded)
        {
            _valid = 0;
        }

        var parked = new List<ParkedFault>(_parked);
        _parked.Clear();
        return parked;
    }

    /// <summary>Frees the buffer; only once the read has run or been cancelled (<see cref="PageWork.CancelOrWait"/>).</summary>
    internal void FreeBuffer()
    {
        _valid = 0;
        _buffer.Dispose();
    }

    /// <inheritdoc />
    protected override void Run() => _file.ReadInto(Window, _buffer.Address);

    /// <summary>Starts the read on <paramref name="ring"/>, tagged <paramref name="tag"/>; false once cancelled.</summary>
    internal bool StartOn(FaultReadRing ring, ulong tag)
    {
        if (!TryStart())
        {
            return false;
        }

        try
        {
            _file.StartRead(ring.Ring, Window, _buffer.Address, tag);
        }
        catch
        {
            Finish();
            throw;
        }

        _ring = ring;
        return true;
    }

    /// <summary>
    /// The ring's read has completed with <paramref name="result"/> (bytes, or -errno): returns
    /// its error, null when it read the whole window.
    /// </summary>
    internal Exception? Completed(int result)
    {
        _file.EndRead();
        Finish();
        var bytes = (long)PageSize.PagesToBytes(Window.Count);
        return result == bytes ? null
            : result < 0 ? new NativeCallException("io_uring read", -result, $"swap-file slots {Window}")
            : new IOException($"io_uring read of swap-file slots {Window}: {result} of {bytes} bytes (the file is shorter than its slots)");
    }

    /// <summary>
    /// Makes sure the read will not write its buffer any more: cancelled if not started, else waited
    /// for at most <paramref name="timeout"/> (on the ring, from its own thread). False if it still runs.
    /// </summary>
    internal bool End(TimeSpan timeout) => _ring is { } ring ? ring.WaitFor(this, timeout) : CancelOrWait(timeout);

    /// <summary>
    /// Drops <see cref="DropCache"/> and starts <see cref="ReadAhead"/> (<see cref="SwapFile.ReadAround"/>),
    /// once the read's faults are answered: POSIX_FADV_WILLNEED allocates and submits the whole
    /// 2 MiB before it returns (about 0.8 ms here), and the fault's own read would queue at the disk
    /// behind it. Best effort: only the page cache is at stake.
    /// </summary>
    public void ReadAround()
    {
        try
        {
            _file.ReadAround(DropCache, ReadAhead);
        }
        catch (NativeCallException)
        {
            // The file system refused the advice: faults read without it.
        }
    }

    private ulong Bit(long index) => 1UL << (int)(index - Window.Start);
}
