using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary>The <c>mmio</c> member of the <c>kvm_run</c> exit union (KVM_EXIT_MMIO).</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct KvmRunMmio
{
    [FieldOffset(0)] internal ulong PhysAddr;

    // __u8 data[8]: little-endian bytes, read as one word.
    [FieldOffset(8)] internal ulong Data;
    [FieldOffset(16)] internal uint Len;
    [FieldOffset(20)] internal byte IsWrite;
}
