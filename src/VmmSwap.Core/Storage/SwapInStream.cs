using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Storage;

/// <summary>
/// The swap file opened a second time for the swap-in's sequential reads: O_DIRECT where the file
/// system allows it, else with the kernel's read-ahead off; read in pieces of
/// <see cref="PiecePages"/> while faults read the disk (<see cref="QuietPiecePages"/> when none
/// has lately), each started only once no fault read runs (<see cref="FaultReadsFirst"/>). Reads
/// run on several threads at once (a swap-in's reads ahead, an ended swap-in's last read beside a
/// new one's); while faults read the disk only one of them reads a piece at a time, so a fault's
/// read queues at the disk behind at most one small piece of swap-in (two quiet ones after a quiet
/// spell). A direct read the device refuses (EINVAL) is read again, and every later one, through
/// the page cache.
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
    /// Pages per read once no fault has read the disk for <see cref="RecentFaultRead"/>: 1 MiB,
    /// half a swap-in window, as the swap-in reads two windows at once. The first fault read after
    /// a quiet spell may queue behind two such pieces, 2 MiB in all; the pieces after it are small
    /// again and one at a time. Direct reads of 2 MiB here ran at 1.0-1.3 GB/s one at a time and
    /// 1.4-1.5 GB/s in 1 MiB reads two at a time; in the bench at 1 GiB, reads two at a time in
    /// 2 MiB pieces gave the swap-in the same rate as 1 MiB ones, and faults during it a p99 of
    /// 830-1540 us against 780-890 (docs/BENCHMARKS.md).
    /// </summary>
    internal const long QuietPiecePages = 256;

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

    // Pieces being read now, under _pieceGate; at most one while faults read the disk.
    private readonly object _pieceGate = new();
    private int _reading;
    private int _mostReading;

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

    /// <summary>The most pieces read at once so far, for tests.</summary>
    internal int MostReadingAtOnce
    {
        get
        {
            lock (_pieceGate)
            {
                return _mostReading;
            }
        }
    }

    /// <summary>Reads the slots of <paramref name="range"/> into <paramref name="destination"/> (page-aligned), a piece at a time, faults' reads first.</summary>
    internal void Read(PageRange range, nint destination)
    {
        long pages;
        for (var start = range.Start; start < range.End; start += pages)
        {
            _faultReads.WaitForNone(_giveWayLimit);
            EnterPiece();
            try
            {
                pages = Math.Min(FaultsReading ? PiecePages : QuietPiecePages, range.End - start);
                Interlocked.Increment(ref _pieces);
                ReadPiece(destination + (nint)PageSize.PagesToBytes(start - range.Start), PageSize.PagesToBytes(pages), (long)PageSize.PagesToBytes(start));
            }
            finally
            {
                ExitPiece();
            }
        }
    }

    private bool FaultsReading => _faultReads.SinceLastStarted < _recentFaultRead;

    // While faults read the disk a piece waits for the others to end. The wait looks again at
    // each give-way limit: faults stop reading the disk with nothing to pulse the gate.
    private void EnterPiece()
    {
        lock (_pieceGate)
        {
            while (_reading > 0 && FaultsReading)
            {
                Monitor.Wait(_pieceGate, _giveWayLimit);
            }

            _reading++;
            _mostReading = Math.Max(_mostReading, _reading);
        }
    }

    private void ExitPiece()
    {
        lock (_pieceGate)
        {
            _reading--;
            Monitor.PulseAll(_pieceGate);
        }
    }

    private void ReadPiece(nint into, ulong bytes, long offset)
    {
        if (_buffered is { } buffered)
        {
            FileOps.ReadExactly(buffered, into, bytes, offset);
            return;
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
