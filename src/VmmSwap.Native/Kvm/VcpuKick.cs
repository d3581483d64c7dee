using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Kvm;

/// <summary>
/// Gets one vCPU thread out of KVM_RUN, also while the guest waits in a userfaultfd fault
/// nobody serves: it sets <c>kvm_run.immediate_exit</c> (a KVM_RUN about to start returns at
/// once) and sends the thread a signal whose handler does nothing (the running KVM_RUN returns
/// EINTR, seen as <see cref="KvmExitReason.Interrupted"/>). Create it on the vCPU's own thread.
/// </summary>
/// <remarks>
/// The handler is one native <c>ret</c> instruction on an executable page of its own, not a
/// managed callback: a signal may land while the thread runs managed code, and entering the
/// runtime from a signal handler is not safe. The signal is SIGRTMAX, which neither glibc nor
/// the .NET runtime uses (the runtime takes SIGRTMIN to interrupt threads for the GC).
/// </remarks>
public sealed unsafe class VcpuKick
{
    private static readonly Lazy<int> Signal = new(InstallHandler, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly KvmVcpu _vcpu;
    private readonly nuint _thread;

    private VcpuKick(KvmVcpu vcpu, nuint thread)
    {
        _vcpu = vcpu;
        _thread = thread;
    }

    /// <summary>The signal number used for kicks.</summary>
    public static int SignalNumber => Signal.Value;

    /// <summary>A kick for <paramref name="vcpu"/> run by the calling thread (installs the no-op handler once per process).</summary>
    public static VcpuKick ForCurrentThread(KvmVcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        _ = Signal.Value;
        return new VcpuKick(vcpu, Libc.PthreadSelf());
    }

    /// <summary>
    /// Makes the vCPU's current or next KVM_RUN return <see cref="KvmExitReason.Interrupted"/>.
    /// The vCPU thread clears <see cref="KvmVcpu.ImmediateExit"/> before it runs the guest again.
    /// Throws <see cref="NativeCallException"/> when the thread is gone.
    /// </summary>
    public void Kick()
    {
        _vcpu.ImmediateExit = true;
        var error = Libc.PthreadKill(_thread, Signal.Value);
        if (error != 0)
        {
            throw new NativeCallException("pthread_kill", error, $"vCPU {_vcpu.Id}'s thread");
        }
    }

    private static int InstallHandler()
    {
        var page = (nint)Libc.Mmap(0, 4096, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (page == -1)
        {
            throw NativeCallException.FromLastError("mmap", "the vCPU kick's handler page");
        }

        // 0xC3 is `ret`: the whole handler. The page stays mapped for the life of the process.
        *(byte*)page = 0xC3;
        if (Libc.Mprotect(page, 4096, Libc.PROT_READ | Libc.PROT_EXEC) != 0)
        {
            throw NativeCallException.FromLastError("mprotect(PROT_EXEC)", "the vCPU kick's handler page");
        }

        var signal = Libc.CurrentSigRtMax();
        var action = new Libc.SigactionStruct { Handler = page, Flags = Libc.SA_RESTART };
        Libc.SigactionStruct previous;
        if (Libc.Sigaction(signal, &action, &previous) != 0)
        {
            throw NativeCallException.FromLastError("sigaction", $"signal {signal}");
        }

        if (previous.Handler != 0)
        {
            // Someone else owned it; give it back rather than steal their signal.
            _ = Libc.Sigaction(signal, &previous, null);
            throw new NativeCallException("sigaction", Libc.EEXIST, $"signal {signal} (SIGRTMAX) already has a handler; the vCPU kick needs it");
        }

        return signal;
    }
}
