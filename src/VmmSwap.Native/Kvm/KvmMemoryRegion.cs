using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary>
/// <c>struct kvm_userspace_memory_region</c>: memory slot <see cref="Slot"/> maps guest-physical
/// <see cref="GuestPhysicalAddress"/>..+<see cref="MemorySize"/> onto the host mapping at
/// <see cref="UserspaceAddress"/>. A size of 0 deletes the slot.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMemoryRegion
{
    /// <summary>The slot number (address space in the upper 16 bits).</summary>
    public uint Slot;

    /// <summary>KVM_MEM_* flags, e.g. KVM_MEM_LOG_DIRTY_PAGES (1) or KVM_MEM_READONLY (2).</summary>
    public uint Flags;

    /// <summary>The first guest-physical address of the slot; page-aligned.</summary>
    public ulong GuestPhysicalAddress;

    /// <summary>The slot's length in bytes; page-aligned.</summary>
    public ulong MemorySize;

    /// <summary>The host virtual address that backs the slot; page-aligned.</summary>
    public ulong UserspaceAddress;
}
