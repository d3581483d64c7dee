using System.Runtime.CompilerServices;

namespace VmmSwap.Native.Kvm;

/// <summary>The <c>interrupt_bitmap</c> of <c>struct kvm_sregs</c>: one bit per vector (256), pending external interrupts.</summary>
[InlineArray(4)]
public struct KvmInterruptBitmap
{
    private ulong _word;
}
