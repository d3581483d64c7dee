using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Kvm;

/// <summary>A KVM virtual machine: its memory slots and its vCPUs.</summary>
public sealed unsafe class KvmVm : IDisposable
{
    private readonly int _vcpuMmapSize;

    internal KvmVm(SafeFd fd, int vcpuMmapSize)
    {
        Fd = fd;
        _vcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>The VM descriptor.</summary>
    public SafeFd Fd { get; }

    /// <summary>
    /// Creates, moves or (with a size of 0) deletes a memory slot (KVM_SET_USER_MEMORY_REGION).
    /// KVM reaches the host mapping through the process's page tables, so a userfaultfd
    /// registered on it sees the guest's first touches as faults raised by the vCPU thread.
    /// </summary>
    public void SetUserMemoryRegion(in KvmMemoryRegion region)
    {
        var copy = region;
        if (Libc.Ioctl(Fd.Value, KvmAbi.SetUserMemoryRegion, &copy) < 0)
        {
            throw NativeCallException.FromLastError(
                "ioctl(KVM_SET_USER_MEMORY_REGION)",
                $"slot {region.Slot} guest-physical 0x{region.GuestPhysicalAddress:X}+0x{region.MemorySize:X} at host 0x{region.UserspaceAddress:X}");
        }
    }

    /// <summary>Creates vCPU <paramref name="id"/> (KVM_CREATE_VCPU) and maps its <c>kvm_run</c> area.</summary>
    public KvmVcpu CreateVcpu(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        var fd = SafeFd.Check(Libc.Ioctl(Fd.Value, KvmAbi.CreateVcpu, id), "ioctl(KVM_CREATE_VCPU)", $"vCPU {id}");
        try
        {
            return new KvmVcpu(fd, id, _vcpuMmapSize);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();
}
