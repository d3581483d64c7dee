using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Storage;

/// <summary>
/// The swap file opened a second time for the swap-in's sequential reads: O_DIRECT where the file
/// system allows it, else with the kernel's read-ahead off; read in pieces of
/// <see cref="PiecePages"/> while faults read the disk (<see cref="QuietPiecePages"/> when none
/// has lately), each started only once no fault read runs (<see cref="FaultReadsFirst"/>). So a
/// fault's read never queues at the disk behind more than one piece of swap-in. A direct
/// read the device refuses (EINVAL) is read again, and every later one, through the page cache.
/// Reads may run on two threads at once (an ended swap-in's last read beside a new one's).
/// </summary>
/// <remarks>
/// Read through the swap file's own descriptor, a sequential 2 MiB pread makes the kernel read
/// ahead up to read_ahead_kb (8 MiB on this project's virtio test disk), all of it queued at the
/// disk before a fault's 32 KiB read: such reads waited 2.5 ms at p50 and 9-14 ms at p99 while a
/// stream ran, against 0.2 ms / 0.5 ms with the disk idle. Direct 256 KiB pieces that wait for
/// fault reads kept them at 0.14 ms / 0.3 ms, and the stream still read 1.3 GB/s, faster than
/// swap-in copies into the guest (docs/BENCHMARKS.md). O_DIRECT also leaves no page cache behind.
/// </remarks>
internal sealed class SwapInStream : IDisposable
{
    /// <summary>Pages per read while the guest's faults read the disk: 256 KiB.</summary>
    internal const long PiecePages = 64;

    /// <summary>
    /// Pages per read once no fault has read the disk for <see cref="RecentFaultRead"/>: 2 MiB, a
    /// whole swap-in window. Direct reads here ran at 0.8 GB/s in 256 KiB pieces and 1.2 GB/s in
    /// 2 MiB ones, and the swap-in of a guest touching nothing went from 0.44-0.56 to
    /// 0.56-0.61 GiB/s (docs/BENCHMARKS.md). The first fault read after a quiet spell may queue
    /// behind one such piece; the pieces after it are small again.
    /// </summary>
    internal const long QuietPiecePages = 512;

    /// <summary>How long after a fault read started the pieces stay small (a stream may be given another).</summary>
    internal static readonly TimeSpan RecentFaultRead = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The longest a piece waits for fault reads: long enough for a few in a row, short enough that
    /// a guest faulting all the time still lets the swap-in through at a piece per wait.
    /// </summary>
    internal static readonly TimeSpan GiveWayLimit = TimeSpan.FromMilliseconds(2);

    private readonly SafeFd _file;
    private readonly SafeFd? _direct;
    private readonly FaultReadsFirst _faultReads;
    private readonly TimeSpan _giveWayLimit;
    private readonly TimeSpan _recentFaultRead;
    private readonly Lock _fallback = new();

    // Read-ahead off. Opened at once where O_DIRECT is refused, else on the first direct read the
    // device refuses (EINVAL: an alignment it does not take), and used from then on.
    private volatile SafeFd? _buffered;
    private long _pieces;

    internal SwapInStream(SafeFd file, FaultReadsFirst faultReads, TimeSpan giveWayLimit, TimeSpan? recentFaultRead = null)
    {
        _file = file;
        _faultReads = faultReads;
        _giveWayLimit = giveWayLimit;
        _recentFaultRead = recentFaultRead ?? RecentFaultRead;
        _direct = FileOps.ReopenDirect(file);
        if (_direct is null)
        {
            _buffered = OpenBuffered(file);
        }
    }

    /// <summary>Whether reads bypass the page cache (O_DIRECT); false where the file system or device refused it.</summary>
    internal bool Direct => _buffered is null;

    /// <summary>Pieces read so far (each one pread), for tests.</summary>
    internal long Pieces => Volatile.Read(ref _pieces);

    /// <summary>Reads the slots of <paramref name="range"/> into <paramref name="destination"/> (page-aligned), a piece at a time, faults' reads first.</summary>
    internal void Read(PageRange range, nint destination)
    {
        long pages;
        for (var start = range.Start; start < range.End; start += pages)
        {
            _faultReads.WaitForNone(_giveWayLimit);
            pages = Math.Min(_faultReads.SinceLastStarted < _recentFaultRead ? PiecePages : QuietPiecePages, range.End - start);
            Interlocked.Increment(ref _pieces);
            var into = destination + (nint)PageSize.PagesToBytes(start - range.Start);
            var bytes = PageSize.PagesToBytes(pages);
            var offset = (long)PageSize.PagesToBytes(start);
            if (_buffered is { } buffered)
            {
                FileOps.ReadExactly(buffered, into, bytes, offset);
                continue;
            }

            try
            {
                FileOps.ReadExactly(_direct!, into, bytes, offset);
            }
            catch (NativeCallException e) when (e.IsInvalidArgument)
            {
                FileOps.ReadExactly(FallBack(), into, bytes, offset);
            }
        }
    }

    private SafeFd FallBack()
    {
        lock (_fallback)
        {
            return _buffered ??= OpenBuffered(_file);
        }
    }

    private static SafeFd OpenBuffered(SafeFd file)
    {
        var fd = FileOps.Reopen(file);
        try
        {
            FileOps.NoReadAhead(fd);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _direct?.Dispose();
        _buffered?.Dispose();
    }
}
