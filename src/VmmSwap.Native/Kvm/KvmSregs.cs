using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary><c>struct kvm_sregs</c> (x86_64): segment registers, descriptor tables, control registers, EFER.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSregs
{
    /// <summary>CS.</summary>
    public KvmSegment Cs;

    /// <summary>DS.</summary>
    public KvmSegment Ds;

    /// <summary>ES.</summary>
    public KvmSegment Es;

    /// <summary>FS.</summary>
    public KvmSegment Fs;

    /// <summary>GS.</summary>
    public KvmSegment Gs;

    /// <summary>SS.</summary>
    public KvmSegment Ss;

    /// <summary>The task register.</summary>
    public KvmSegment Tr;

    /// <summary>The LDT register.</summary>
    public KvmSegment Ldt;

    /// <summary>GDTR.</summary>
    public KvmDtable Gdt;

    /// <summary>IDTR.</summary>
    public KvmDtable Idt;

    /// <summary>CR0.</summary>
    public ulong Cr0;

    /// <summary>CR2.</summary>
    public ulong Cr2;

    /// <summary>CR3: the guest-physical address of the top-level page table.</summary>
    public ulong Cr3;

    /// <summary>CR4.</summary>
    public ulong Cr4;

    /// <summary>CR8 (the task priority).</summary>
    public ulong Cr8;

    /// <summary>EFER (LME, LMA, NXE...).</summary>
    public ulong Efer;

    /// <summary>The APIC base MSR.</summary>
    public ulong ApicBase;

    /// <summary>Pending external interrupts.</summary>
    public KvmInterruptBitmap InterruptBitmap;
}
