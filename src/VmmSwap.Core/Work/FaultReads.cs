using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Core.Work;

/// <summary>
/// The swap-file reads under way for faults, and the last ones loaded: a page is read for a fault
/// at most once at a time (a second fault on it parks on the same read), and a page a read brought
/// along is served from that read's buffer until it leaves the file. Owned by the
/// <see cref="PageHandler"/>'s thread; only <see cref="PageWork.Execute"/> of each read runs elsewhere.
/// </summary>
public sealed class FaultReads
{
    // Loaded reads kept for the neighbours they hold: 64 reads of 8 pages are 2 MiB at most.
    private const int RetainedLoaded = 64;

    // Each read, once done, starts reading its aligned 2 MiB (one huge page of slots) into the page cache.
    private const long ReadAheadPages = 512;

    // Read-around blocks left in the page cache: 64 of 2 MiB. A guest faulting on random pages
    // after swap-out would otherwise pull 2 MiB into the host's RAM per page it touches (a 1 GiB
    // demo guest's 13,107 file faults left 512 MiB of the swap file cached), and that RAM is the
    // host's to get back. The oldest block's cache is dropped by the read that starts a new one.
    // Not fewer: a guest touching 64 MiB in random order (bench --kvm) with 16 blocks kept had
    // its blocks dropped before it came back to them, and file faults ran at half the rate.
    private const int RetainedReadAround = 64;

    /// <summary>
    /// Fault reads more than faults served from the page cache that read-around filled, beyond
    /// which reads stop reading around, as the kernel's mmap_miss stops a file mapping's
    /// read-around. Each miss may be 2 MiB read for nothing: 32 MiB at most.
    /// </summary>
    internal const int MaxReadAroundMisses = 16;

    private readonly SwapFile _file;
    private readonly DeferredFrees _noFrees;
    private readonly List<FaultRead> _reads = [];
    private readonly Queue<long> _readAround = [];

    // Reads planned minus faults served from the page cache, kept in [0, 10 x the limit]
    // as the kernel keeps mmap_miss: a guest that starts hitting again turns read-around back on soon.
    private int _misses;

    internal FaultReads(SwapFile file, DeferredFrees noFrees)
    {
        _file = file;
        _noFrees = noFrees;
    }

    /// <summary>Reads planned and not yet taken back.</summary>
    public int InFlight { get; private set; }

    /// <summary>Whether the next read reads around its page (<see cref="MaxReadAroundMisses"/>).</summary>
    internal bool ReadingAround => _misses <= MaxReadAroundMisses;

    /// <summary>A fault was served from the page cache: read-around paid.</summary>
    internal void Hit()
    {
        if (_misses > 0)
        {
            _misses--;
        }
    }

    /// <summary>The read that holds slot <paramref name="index"/> (under way or loaded); null when none.</summary>
    internal FaultRead? Find(long index)
    {
        foreach (var read in _reads)
        {
            if (read.Holds(index))
            {
                return read;
            }
        }

        return null;
    }

    /// <summary>
    /// Plans the read for a fault on slot <paramref name="index"/>: the run of present slots around
    /// it in its aligned block of <paramref name="blockPages"/>, none of them held by another read,
    /// with its aligned 2 MiB to read into the page cache after it (<see cref="FaultRead.ReadAround"/>)
    /// while <see cref="ReadingAround"/>, unless <paramref name="swapInStreams"/>: a swap-in reads
    /// every block anyway, and a guest faulting all over its memory meanwhile (a working set
    /// coming back) would have each of its reads queue at the disk behind other faults' 2 MiB.
    /// </summary>
    internal FaultRead Plan(long index, int blockPages, ParkedFault fault, bool swapInStreams)
    {
        var readAhead = ReadingAround && !swapInStreams;
        if (!swapInStreams)
        {
            // A swap-in's faults are no evidence either way: they read no block around.
            _misses = Math.Min(_misses + 1, 10 * MaxReadAroundMisses);
        }

        var block = Math.Clamp(blockPages, 1, FaultRead.MaxPages);
        var blockStart = index - (index % block);
        var limit = new PageRange(blockStart, Math.Min(blockStart + block, _file.Length));
        var start = index;
        while (start > limit.Start && Readable(start - 1))
        {
            start--;
        }

        var end = index + 1;
        while (end < limit.End && Readable(end))
        {
            end++;
        }

        var aheadStart = index - (index % ReadAheadPages);
        var ahead = readAhead ? new PageRange(aheadStart, Math.Min(aheadStart + ReadAheadPages, _file.Length)) : new PageRange(start, start);
        var read = new FaultRead(_file, new PageRange(start, end), ahead, readAhead ? Retire(aheadStart) : null, _noFrees);
        read.Park(fault);
        _reads.Add(read);
        InFlight++;
        return read;
    }

    /// <summary>
    /// Takes an executed (or failed) read back; returns the faults parked on it, to be served again.
    /// A read ended by <see cref="Close"/> meanwhile (its faults were handed back then) has none.
    /// </summary>
    internal List<ParkedFault> Complete(FaultRead read, bool succeeded)
    {
        if (read.Loaded || !_reads.Contains(read))
        {
            return [];
        }

        InFlight--;
        var parked = read.Complete(succeeded);
        if (read.Spent)
        {
            Remove(read);
        }

        EvictLoaded();
        return parked;
    }

    /// <summary>
    /// Drops the faults of <paramref name="uffd"/> parked on any read: it was detached, or its
    /// process is gone, so there is no thread of it left to serve (the unregister woke them).
    /// </summary>
    internal void Forget(Userfaultfd uffd)
    {
        foreach (var read in _reads)
        {
            read.Unpark(uffd);
        }
    }

    /// <summary>Takes the faults of <paramref name="uffd"/> off every read and returns them, to be served now.</summary>
    internal List<ParkedFault> Take(Userfaultfd uffd) => [.. _reads.SelectMany(read => read.TakeParked(uffd))];

    /// <summary>The slots of <paramref name="range"/> left the file: no read may serve them any more.</summary>
    internal void Drop(PageRange range)
    {
        for (var i = _reads.Count - 1; i >= 0; i--)
        {
            var read = _reads[i];
            read.Invalidate(range);
            if (read.Spent && read.Loaded)
            {
                Remove(read);
            }
        }
    }

    /// <summary>
    /// Ends every read: cancels those not started, waits up to <paramref name="timeout"/> for those
    /// running, frees every buffer it can, and returns the faults parked on them (to be served
    /// inline or woken) and whether every buffer was freed (a read still running keeps its own).
    /// </summary>
    internal (List<ParkedFault> Parked, bool Safe) Close(TimeSpan timeout)
    {
        var parked = new List<ParkedFault>();
        var safe = true;
        foreach (var read in _reads)
        {
            if (!read.Loaded)
            {
                parked.AddRange(read.Complete(succeeded: false));
                if (!read.End(timeout))
                {
                    safe = false;
                    continue;
                }
            }

            read.FreeBuffer();
        }

        _reads.Clear();
        InFlight = 0;
        return (parked, safe);
    }

    private bool Readable(long index) => _file.IsPresent(index) && Find(index) is null;

    // Remembers the read-around block at blockStart; returns the oldest block, whose cache the new
    // read drops, once more than RetainedReadAround are held (null while fewer, and for a block
    // already held).
    private PageRange? Retire(long blockStart)
    {
        if (_readAround.Contains(blockStart))
        {
            return null;
        }

        _readAround.Enqueue(blockStart);
        if (_readAround.Count <= RetainedReadAround)
        {
            return null;
        }

        var oldest = _readAround.Dequeue();
        return new PageRange(oldest, Math.Min(oldest + ReadAheadPages, _file.Length));
    }

    private void Remove(FaultRead read)
    {
        _reads.Remove(read);
        read.FreeBuffer();
    }

    private void EvictLoaded()
    {
        var loaded = _reads.Count - InFlight;
        for (var i = 0; loaded > RetainedLoaded && i < _reads.Count;)
        {
            if (_reads[i].Loaded)
            {
                Remove(_reads[i]);
                loaded--;
            }
            else
            {
                i++;
            }
        }
    }
}
