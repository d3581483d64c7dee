using System.Diagnostics;
using VmmSwap.Guest.Layout;
using VmmSwap.Guest.Vcpus;

namespace VmmSwap.Guest.Host;

/// <summary>
/// One run of every vCPU, with its watchdog. KVM does not fail KVM_RUN for a userfaultfd fault
/// nobody serves (the vCPU waits in it), so the host keeps its own deadline: a vCPU in KVM_RUN
/// whose page visits, first touches and reports stand still for the options' progress deadline
/// is recorded as stalled (where, for how long) and kicked out of KVM_RUN; waiting for the run
/// then throws <see cref="GuestStalledException"/> instead of hanging.
/// </summary>
public sealed class GuestRun : IDisposable
{
    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(100);

    // A vCPU asked to stop does so within a page visit, and a kicked one within a kick; this is for a machine under load.
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(30);

    private readonly KvmGuestHost _host;
    private readonly IReadOnlyList<VcpuRunner> _vcpus;
    private readonly ulong[][] _logBefore;
    private readonly ulong[,] _countersBefore;
    private readonly long[] _lastProgress;
    private readonly long[] _lastChangeTicks;
    private readonly VcpuStall?[] _stalls;
    private readonly Timer _watchdog;
    private readonly object _gate = new();
    private IReadOnlyList<VcpuRunResult>? _results;

    // The counters a result reports, in this order; FirstTouchesAt is its index.
    private static readonly int[] Counters = [VcpuBlock.Accesses, VcpuBlock.Writes, VcpuBlock.FirstTouches, VcpuBlock.Mismatches];
    private const int FirstTouchesAt = 2;

    internal GuestRun(KvmGuestHost host, IReadOnlyList<VcpuRunner> vcpus, long[] limits, long sweeps, TimeSpan pause)
    {
        _host = host;
        _vcpus = vcpus;
        _logBefore = new ulong[vcpus.Count][];
        _countersBefore = new ulong[vcpus.Count, Counters.Length];
        _lastProgress = new long[vcpus.Count];
        _lastChangeTicks = new long[vcpus.Count];
        _stalls = new VcpuStall?[vcpus.Count];
        var now = Stopwatch.GetTimestamp();
        for (var v = 0; v < vcpus.Count; v++)
        {
            _logBefore[v] = host.ReadLog(v);
            for (var c = 0; c < Counters.Length; c++)
            {
                _countersBefore[v, c] = host.ReadBlock(v, Counters[c]);
            }

            _lastProgress[v] = Progress(v);
            _lastChangeTicks[v] = now;
        }

        for (var v = 0; v < vcpus.Count; v++)
        {
            vcpus[v].Start(limits[v], sweeps, pause);
        }

        _watchdog = new Timer(_ => Watch(), null, WatchInterval, WatchInterval);
    }

    /// <summary>Whether every vCPU's thread has ended.</summary>
    public bool Ended => _vcpus.All(v => v.Ended);

    /// <summary>First touches so far in this run, over all vCPUs (read live from the control slot).</summary>
    public long FirstTouches => Enumerable.Range(0, _vcpus.Count).Sum(v => (long)(_host.ReadBlock(v, VcpuBlock.FirstTouches) - _countersBefore[v, FirstTouchesAt]));

    /// <summary>
    /// Waits until every vCPU has done its sweeps and returns what each did. Throws
    /// <see cref="GuestStalledException"/> when the watchdog found a vCPU stuck,
    /// <see cref="GuestVcpuFailedException"/> when one failed, and <see cref="TimeoutException"/>
    /// (after stopping the run) when <paramref name="timeout"/> passed with every vCPU progressing.
    /// </summary>
    public IReadOnlyList<VcpuRunResult> WaitUntilDone(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();

        // One look for a vCPU still running: asking whether all ended, then which one has not,
        // found none when the last ones ended in between.
        while (_vcpus.FirstOrDefault(v => !v.Ended) is { } running)
        {
            if (clock.Elapsed > timeout)
            {
                Stop();
                throw new TimeoutException($"the guest's sweeps were not done within {timeout.TotalSeconds:F0} s");
            }

            running.Join(WatchInterval);
        }

        return Finish();
    }

    /// <summary>
    /// Stops every vCPU before its next page visit and returns what each did; throws as
    /// <see cref="WaitUntilDone"/> does. A vCPU waiting in a fault stops once it is served, or is
    /// kicked out by the watchdog as stalled when it is not.
    /// </summary>
    public IReadOnlyList<VcpuRunResult> Stop()
    {
        foreach (var vcpu in _vcpus)
        {
            vcpu.RequestStop();
        }

        foreach (var vcpu in _vcpus)
        {
            if (!vcpu.Join(JoinTimeout))
            {
                vcpu.Abort();
                var kicked = vcpu.Join(JoinTimeout) ? "was kicked out of KVM_RUN" : "did not leave KVM_RUN when kicked either";
                throw new GuestVcpuFailedException(vcpu.Id, $"did not stop within {JoinTimeout.TotalSeconds:F0} s of being asked and {kicked}");
            }
        }

        return Finish();
    }

    /// <summary>Stops the run if it still runs; its results are dropped.</summary>
    public void Dispose()
    {
        if (!Ended)
        {
            foreach (var vcpu in _vcpus)
            {
                vcpu.Abort();
            }

            foreach (var vcpu in _vcpus)
            {
                vcpu.Join(JoinTimeout);
            }
        }

        _watchdog.Dispose();
    }

    private IReadOnlyList<VcpuRunResult> Finish()
    {
        lock (_gate)
        {
            _watchdog.Change(Timeout.Infinite, Timeout.Infinite);
            var stalls = _stalls.OfType<VcpuStall>().ToList();
            if (stalls.Count > 0)
            {
                throw new GuestStalledException(stalls);
            }

            if (_vcpus.FirstOrDefault(v => v.Failure is not null) is { } failed)
            {
                throw failed.Failure as GuestVcpuFailedException ?? new GuestVcpuFailedException(failed.Id, "failed", failed.Failure);
            }

            return _results ??= [.. Enumerable.Range(0, _vcpus.Count).Select(Result)];
        }
    }

    private VcpuRunResult Result(int v)
    {
        var delta = new long[Counters.Length];
        for (var c = 0; c < Counters.Length; c++)
        {
            delta[c] = (long)(_host.ReadBlock(v, Counters[c]) - _countersBefore[v, c]);
        }

        var pages = _host.Pages(v);
        var log = _host.ReadLog(v);
        var micros = new List<double>();
        for (var i = 0; i < log.Length; i++)
        {
            if (log[i] != 0 && _logBefore[v][i] == 0)
            {
                micros.Add(log[i] * 1e6 / _host.TscHz);
            }
        }

        return new VcpuRunResult(v, _vcpus[v].Sweeps, delta[0], delta[1], delta[FirstTouchesAt], delta[3], [.. _vcpus[v].Mismatches.Select(i => pages[i])], micros);
    }

    private long Progress(int v) =>
        (long)(_host.ReadBlock(v, VcpuBlock.Accesses) + _host.ReadBlock(v, VcpuBlock.FirstTouches)) + _vcpus[v].Sweeps;

    private void Watch()
    {
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            for (var v = 0; v < _vcpus.Count; v++)
            {
                var vcpu = _vcpus[v];
                var entered = vcpu.RunEnteredTicks;
                var progress = Progress(v);
                if (progress != _lastProgress[v] || entered == 0 || vcpu.Ended)
                {
                    // Out of KVM_RUN (between sweeps, paused) is not a stall either.
                    _lastProgress[v] = progress;
                    _lastChangeTicks[v] = now;
                    continue;
                }

                var since = Stopwatch.GetElapsedTime(Math.Max(_lastChangeTicks[v], entered), now);
                if (_stalls[v] is null && since > _host.Options.Deadline)
                {
                    var at = _host.ReadBlock(v, VcpuBlock.Current);
                    _stalls[v] = new VcpuStall(vcpu.Id, at, _host.Map.HostAddress(at), since);
                    vcpu.Abort();
                }
            }
        }
    }
}
