using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Kvm;

/// <summary>
/// One vCPU: its registers, KVM_RUN, and what the last exit left in the shared <c>kvm_run</c>
/// area. Reading that area from managed code is safe: it is kernel memory mapped from the vCPU
/// descriptor, never registered with userfaultfd, so it cannot fault on a missing guest page.
/// </summary>
public sealed unsafe class KvmVcpu : IDisposable
{
    private readonly MemoryMapping _run;

    internal KvmVcpu(SafeFd fd, int id, int mmapSize)
    {
        Fd = fd;
        Id = id;
        _run = MemoryMapping.MapShared(fd, 0, (ulong)mmapSize, writable: true);
    }

    /// <summary>The vCPU descriptor.</summary>
    public SafeFd Fd { get; }

    /// <summary>The vCPU id it was created with.</summary>
    public int Id { get; }

    /// <summary>Why the last KVM_RUN returned.</summary>
    public KvmExitReason ExitReason => (KvmExitReason)Header->ExitReason;

    /// <summary>The MMIO access of the last exit; meaningful when <see cref="ExitReason"/> is <see cref="KvmExitReason.Mmio"/>.</summary>
    public KvmMmioExit Mmio
    {
        get
        {
            ref readonly var mmio = ref Header->Mmio;
            return new KvmMmioExit(mmio.PhysAddr, mmio.Data, mmio.Len, mmio.IsWrite != 0);
        }
    }

    /// <summary>
    /// <c>kvm_run.immediate_exit</c>: while set, KVM_RUN returns <see cref="KvmExitReason.Interrupted"/>
    /// at once instead of running the guest (see <see cref="VcpuKick"/>).
    /// </summary>
    public bool ImmediateExit
    {
        get => Volatile.Read(ref Header->ImmediateExit) != 0;
        set => Volatile.Write(ref Header->ImmediateExit, value ? (byte)1 : (byte)0);
    }

    private KvmRunHeader* Header => (KvmRunHeader*)_run.Address;

    /// <summary>
    /// Runs the guest until it exits to the host (KVM_RUN) and returns why. A signal that
    /// interrupts it returns <see cref="KvmExitReason.Interrupted"/>. Any other failure throws
    /// <see cref="NativeCallException"/>; EFAULT means KVM could not fault in the host memory
    /// behind a slot. A userfaultfd fault nobody serves does not fail: the call waits in it.
    /// </summary>
    /// <remarks>
    /// KVM_RUN blocks for as long as the guest runs, including while a guest access waits in a
    /// userfaultfd fault. The import is a plain LibraryImport (no SuppressGCTransition), so the
    /// thread is in preemptive GC mode for the whole call and a GC never waits for a vCPU stalled
    /// in a guest page fault (docs/ARCHITECTURE.md, "GC safety").
    /// </remarks>
    public KvmExitReason Run()
    {
        if (Libc.Ioctl(Fd.Value, KvmAbi.Run, 0) == 0)
        {
            return ExitReason;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.EINTR)
        {
            return KvmExitReason.Interrupted;
        }

        var detail = errno == Libc.EFAULT
            ? $"vCPU {Id}: KVM could not fault in the host memory behind a guest access (is the slot's mapping still there?)"
            : $"vCPU {Id}";
        throw new NativeCallException("ioctl(KVM_RUN)", errno, detail);
    }

    /// <summary>Reads the general-purpose registers (KVM_GET_REGS).</summary>
    public KvmRegs GetRegs()
    {
        KvmRegs regs;
        Check(Libc.Ioctl(Fd.Value, KvmAbi.GetRegs, &regs), "ioctl(KVM_GET_REGS)");
        return regs;
    }

    /// <summary>Writes the general-purpose registers (KVM_SET_REGS).</summary>
    public void SetRegs(in KvmRegs regs)
    {
        var copy = regs;
        Check(Libc.Ioctl(Fd.Value, KvmAbi.SetRegs, &copy), "ioctl(KVM_SET_REGS)");
    }

    /// <summary>Reads the segment, descriptor-table and control registers (KVM_GET_SREGS).</summary>
    public KvmSregs GetSregs()
    {
        KvmSregs sregs;
        Check(Libc.Ioctl(Fd.Value, KvmAbi.GetSregs, &sregs), "ioctl(KVM_GET_SREGS)");
        return sregs;
    }

    /// <summary>Writes the segment, descriptor-table and control registers (KVM_SET_SREGS).</summary>
    public void SetSregs(in KvmSregs sregs)
    {
        var copy = sregs;
        Check(Libc.Ioctl(Fd.Value, KvmAbi.SetSregs, &copy), "ioctl(KVM_SET_SREGS)");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _run.Dispose();
        Fd.Dispose();
    }

    private void Check(int result, string call)
    {
        if (result < 0)
        {
            throw NativeCallException.FromLastError(call, $"vCPU {Id}");
        }
    }
}
