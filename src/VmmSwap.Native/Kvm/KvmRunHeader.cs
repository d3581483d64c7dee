using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary>
/// The start of <c>struct kvm_run</c>, the page the kernel shares with each vCPU: the fixed
/// header, then the exit union at offset 32, of which only the <c>mmio</c> member is laid out.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32 + 256)]
internal struct KvmRunHeader
{
    [FieldOffset(0)] internal byte RequestInterruptWindow;
    [FieldOffset(1)] internal byte ImmediateExit;
    [FieldOffset(8)] internal uint ExitReason;
    [FieldOffset(12)] internal byte ReadyForInterruptInjection;
    [FieldOffset(13)] internal byte IfFlag;
    [FieldOffset(14)] internal ushort Flags;
    [FieldOffset(16)] internal ulong Cr8;
    [FieldOffset(24)] internal ulong ApicBase;
    [FieldOffset(32)] internal KvmRunMmio Mmio;
}
