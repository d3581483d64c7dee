using System.Buffers.Binary;
using System.Diagnostics;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// One simulated vCPU: a real thread that reads and writes its own slice of the guest's hot pages
/// through <see cref="GuestMemory"/>. Every access goes through the native accessors (docs/ARCHITECTURE.md, "GC safety"),
/// so a thread waiting in a userfaultfd fault is in native code and never stalls a GC. The first
/// touch of a page since Enable is a fault; its latency is recorded.
/// </summary>
public sealed class VirtualCpu
{
    // One access in this many is a write: an idle guest mostly reads, but writes must survive swap too.
    private const int WriteEvery = 4;

    // Pause between sweeps of the working set: an idle guest touches its pages now and then; a
    // spinning one would take the cores the fault handler needs and measure contention instead.
    private static readonly TimeSpan SweepPause = TimeSpan.FromMilliseconds(10);

    private readonly int _id;
    private readonly GuestMemory _guest;
    private readonly ulong[] _reference;
    private readonly long[] _pages;
    private readonly bool[] _touched;
    private readonly Random _random;
    private readonly byte[] _buffer = new byte[PageSize.Bytes];
    private Thread? _thread;
    private volatile bool _stop;
    private int _limit;
    private GuestRunCounters? _counters;
    private List<long> _latencies = [];
    private List<long> _readMismatches = [];

    /// <summary>
    /// Creates vCPU <paramref name="id"/> owning <paramref name="pages"/>; it writes the checksum of
    /// every page it writes into <paramref name="reference"/>, which no other thread touches for these pages.
    /// </summary>
    public VirtualCpu(int id, GuestMemory guest, ulong[] reference, long[] pages, int seed)
    {
        _id = id;
        _guest = guest;
        _reference = reference;
        _pages = pages;
        _touched = new bool[pages.Length];
        _random = new Random(unchecked((seed * 31) + 101 + id));
    }

    /// <summary>The pages this vCPU owns.</summary>
    public IReadOnlyList<long> Pages => _pages;

    /// <summary>Latencies (Stopwatch ticks) of the faulting first touches in the last run.</summary>
    public IReadOnlyList<long> Latencies => _latencies;

    /// <summary>Pages whose bytes, read in the last run, differed from what was last written.</summary>
    public IReadOnlyList<long> ReadMismatches => _readMismatches;

    /// <summary>Forgets which pages were touched: Enable has just moved every page out of the guest.</summary>
    public void ForgetTouches() => Array.Clear(_touched);

    /// <summary>Starts a run over the first <paramref name="limit"/> pages of the slice, counting into <paramref name="counters"/>.</summary>
    public void Start(int limit, GuestRunCounters counters)
    {
        _limit = Math.Clamp(limit, 0, _pages.Length);
        _counters = counters;
        _latencies = [];
        _readMismatches = [];
        _stop = false;

        // Background: should a fault never be served, the process can still exit and say so.
        _thread = new Thread(Loop) { IsBackground = true, Name = $"vcpu-{_id}" };
        _thread.Start();
    }

    /// <summary>Stops the run; false when the thread did not stop within <paramref name="timeout"/> (stuck in a fault).</summary>
    public bool Stop(TimeSpan timeout)
    {
        _stop = true;
        return _thread?.Join(timeout) ?? true;
    }

    private void Loop()
    {
        while (!_stop)
        {
            for (var i = 0; i < _limit && !_stop; i++)
            {
                Access(i);
            }

            Thread.Sleep(SweepPause);
        }
    }

    private void Access(int i)
    {
        var page = _pages[i];
        var address = _guest.PageAddress(page);
        if (_touched[i])
        {
            _guest.Read(address, _buffer);
        }
        else
        {
            var start = Stopwatch.GetTimestamp();
            _guest.Read(address, _buffer);
            _latencies.Add(Stopwatch.GetTimestamp() - start);
            _touched[i] = true;
            _counters!.AddFault();
        }

        if (GuestMemory.ChecksumOf(_buffer) != _reference[page])
        {
            _readMismatches.Add(page);
        }

        if (_random.Next(WriteEvery) == 0)
        {
            var offset = _random.Next(PageSize.Bytes / sizeof(long)) * sizeof(long);
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(offset), _random.NextInt64() | 1);
            _guest.Write(address, _buffer);
            _reference[page] = GuestMemory.ChecksumOf(_buffer);
            _counters!.AddWrite();
        }

        _counters!.AddAccess();
    }
}
