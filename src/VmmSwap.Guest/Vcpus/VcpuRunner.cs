using System.Diagnostics;
using VmmSwap.Guest.Host;
using VmmSwap.Guest.Layout;
using VmmSwap.Native.Kvm;

namespace VmmSwap.Guest.Vcpus;

/// <summary>
/// One vCPU's runs: each on a dedicated thread of its own that loops in KVM_RUN and handles the
/// guest's MMIO reports. KVM_RUN is a native call, so the thread is in preemptive GC mode while
/// the guest waits in a userfaultfd fault (docs/ARCHITECTURE.md, "GC safety").
/// </summary>
internal sealed class VcpuRunner : IDisposable
{
    private readonly KvmVcpu _vcpu;
    private readonly ControlMemory _control;
    private readonly ulong _block;
    private readonly ManualResetEventSlim _stopSignal = new();
    private readonly List<int> _mismatches = [];
    private readonly Lock _kickGate = new();
    private Thread? _thread;
    private VcpuKick? _kick;
    private int _abort;
    private TimeSpan _pause;
    private long _sweeps;
    private long _runEnteredTicks;
    private volatile bool _done;
    private Exception? _failure;
    private (ulong Tsc, long Ticks)? _firstProgress;
    private (ulong Tsc, long Ticks)? _lastProgress;

    internal VcpuRunner(KvmVcpu vcpu, ControlMemory control, ulong block)
    {
        _vcpu = vcpu;
        _control = control;
        _block = block;
    }

    internal int Id => _vcpu.Id;

    /// <summary>Whether the guest reported done (the sweeps asked for are over).</summary>
    internal bool Done => _done;

    /// <summary>Whether the run's thread has ended.</summary>
    internal bool Ended => _thread is null || !_thread.IsAlive;

    /// <summary>When the thread last entered KVM_RUN (Stopwatch ticks), 0 while it is out of it.</summary>
    internal long RunEnteredTicks => Interlocked.Read(ref _runEnteredTicks);

    /// <summary>Progress reports (sweeps) in the run.</summary>
    internal long Sweeps => Interlocked.Read(ref _sweeps);

    /// <summary>What ended the run other than a stop or done: a KVM_RUN failure or an exit the host does not handle.</summary>
    internal Exception? Failure => _failure;

    /// <summary>Indices (in the vCPU's pages) of the pages the guest reported as mismatched, in report order.</summary>
    internal IReadOnlyList<int> Mismatches => _mismatches;

    /// <summary>The first and last progress reports: the guest's TSC and the host's clock when each exit came back.</summary>
    internal ((ulong Tsc, long Ticks) First, (ulong Tsc, long Ticks) Last)? ProgressSpan =>
        _firstProgress is { } first && _lastProgress is { } last ? (first, last) : null;

    internal ulong Counter(int field) => _control.ReadU64(_block + (ulong)field);

    /// <summary>Starts a run of <paramref name="sweeps"/> sweeps (0: until stopped) over the first <paramref name="limit"/> pages, pausing <paramref name="pause"/> after each.</summary>
    internal void Start(long limit, long sweeps, TimeSpan pause)
    {
        if (_thread is { IsAlive: true })
        {
            throw new InvalidOperationException($"vCPU {Id} is already running");
        }

        _control.WriteU64(_block + VcpuBlock.Limit, (ulong)limit);
        _control.WriteU64(_block + VcpuBlock.Sweeps, (ulong)sweeps);
        _control.WriteU64(_block + VcpuBlock.StopRequested, 0);
        _vcpu.SetRegs(new KvmRegs
        {
            Rip = ControlSlot.Code,
            Rdi = _block,
            Rsp = _block + ControlSlot.VcpuBlockSize,
            Rflags = 0x2,
        });
        _pause = pause;
        _abort = 0;
        _stopSignal.Reset();
        _mismatches.Clear();
        _sweeps = 0;
        _done = false;
        _failure = null;
        _firstProgress = null;
        _lastProgress = null;

        // Background: should a vCPU never leave KVM_RUN, the process can still exit and say so.
        _thread = new Thread(Loop) { IsBackground = true, Name = $"kvm-vcpu-{Id}" };
        _thread.Start();
    }

    /// <summary>
    /// Asks the run to end where the guest stops by itself: before its next page visit (a pause
    /// between sweeps is cut short). A vCPU waiting in a fault stops once the fault is served;
    /// one whose fault is never served is the watchdog's to <see cref="Abort"/>.
    /// </summary>
    internal void RequestStop()
    {
        _control.WriteU64(_block + VcpuBlock.StopRequested, 1);
        _stopSignal.Set();
    }

    /// <summary>
    /// Ends the run at once: a kick gets the vCPU out of KVM_RUN wherever the guest is, also out
    /// of a fault nobody serves. The guest may be between a write and its checksum, so the pages'
    /// recorded checksums are not to be trusted after it.
    /// </summary>
    internal void Abort()
    {
        Interlocked.Exchange(ref _abort, 1);
        _stopSignal.Set();

        // Under the gate the thread is still in Loop: a signal to a thread that has exited is
        // undefined behaviour (its pthread_t may be gone), so the thread clears the kick under it.
        lock (_kickGate)
        {
            _kick?.Kick();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopSignal.Dispose();

    internal bool Join(TimeSpan timeout) => _thread?.Join(timeout) ?? true;

    private void Loop()
    {
        // An Abort either kicks under the gate after this, or set its flag before it and the
        // loop sees the flag before it enters KVM_RUN.
        lock (_kickGate)
        {
            _kick = VcpuKick.ForCurrentThread(_vcpu);
        }

        try
        {
            while (true)
            {
                _vcpu.ImmediateExit = false;
                if (Interlocked.CompareExchange(ref _abort, 0, 0) != 0)
                {
                    return;
                }

                Interlocked.Exchange(ref _runEnteredTicks, Stopwatch.GetTimestamp());
                var reason = _vcpu.Run();
                Interlocked.Exchange(ref _runEnteredTicks, 0);
                if (reason == KvmExitReason.Interrupted)
                {
                    continue;
                }

                if (reason != KvmExitReason.Mmio || !_vcpu.Mmio.IsWrite)
                {
                    throw new GuestVcpuFailedException(Id, $"exited with {reason} at RIP 0x{_vcpu.GetRegs().Rip:X}");
                }

                if (Handle(_vcpu.Mmio))
                {
                    return;
                }
            }
        }
        catch (Exception e)
        {
            _failure = e;
        }
        finally
        {
            Interlocked.Exchange(ref _runEnteredTicks, 0);
            lock (_kickGate)
            {
                _kick = null;
            }
        }
    }

    // True when the run is over.
    private bool Handle(KvmMmioExit mmio)
    {
        switch ((MmioPort)mmio.PhysicalAddress)
        {
            case MmioPort.Progress:
                var point = (mmio.Data, Stopwatch.GetTimestamp());
                _firstProgress ??= point;
                _lastProgress = point;
                Interlocked.Increment(ref _sweeps);
                if (_pause > TimeSpan.Zero)
                {
                    _stopSignal.Wait(_pause);
                }

                return false;
            case MmioPort.Mismatch:
                _mismatches.Add((int)mmio.Data);
                return false;
            case MmioPort.Done:
                _done = true;
                return true;
            case MmioPort.Stopped:
                return true;
            default:
                throw new GuestVcpuFailedException(Id, $"stored 0x{mmio.Data:X} to guest-physical 0x{mmio.PhysicalAddress:X}, which is neither memory nor a report port");
        }
    }
}
