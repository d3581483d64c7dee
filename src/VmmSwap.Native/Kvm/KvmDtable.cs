using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary><c>struct kvm_dtable</c>: the GDTR or IDTR.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct KvmDtable
{
    /// <summary>The table's linear address.</summary>
    public ulong Base;

    /// <summary>The table's limit (its size in bytes minus one).</summary>
    public ushort Limit;
}
