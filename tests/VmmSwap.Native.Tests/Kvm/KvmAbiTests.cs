using System.Runtime.InteropServices;
using VmmSwap.Native.Kvm;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Kvm;

/// <summary>Every KVM ioctl number, exit reason, struct size and field offset the bindings use, against linux/kvm.h as cc sees it.</summary>
public sealed unsafe class KvmAbiTests
{
    private const string Probe = """
        #include <stdio.h>
        #include <stddef.h>
        #include <linux/kvm.h>
        #define V(name, value) printf("%s 0x%llx\n", name, (unsigned long long)(value))
        #define OFF(type, field) V(#type "." #field, offsetof(struct type, field))
        int main(void)
        {
            V("KVM_API_VERSION", KVM_API_VERSION);
            V("KVM_GET_API_VERSION", KVM_GET_API_VERSION);
            V("KVM_CREATE_VM", KVM_CREATE_VM);
            V("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE);
            V("KVM_CREATE_VCPU", KVM_CREATE_VCPU);
            V("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION);
            V("KVM_RUN", KVM_RUN);
            V("KVM_GET_REGS", KVM_GET_REGS);
            V("KVM_SET_REGS", KVM_SET_REGS);
            V("KVM_GET_SREGS", KVM_GET_SREGS);
            V("KVM_SET_SREGS", KVM_SET_SREGS);

            V("KVM_EXIT_UNKNOWN", KVM_EXIT_UNKNOWN);
            V("KVM_EXIT_EXCEPTION", KVM_EXIT_EXCEPTION);
            V("KVM_EXIT_IO", KVM_EXIT_IO);
            V("KVM_EXIT_HYPERCALL", KVM_EXIT_HYPERCALL);
            V("KVM_EXIT_DEBUG", KVM_EXIT_DEBUG);
            V("KVM_EXIT_HLT", KVM_EXIT_HLT);
            V("KVM_EXIT_MMIO", KVM_EXIT_MMIO);
            V("KVM_EXIT_IRQ_WINDOW_OPEN", KVM_EXIT_IRQ_WINDOW_OPEN);
            V("KVM_EXIT_SHUTDOWN", KVM_EXIT_SHUTDOWN);
            V("KVM_EXIT_FAIL_ENTRY", KVM_EXIT_FAIL_ENTRY);
            V("KVM_EXIT_INTR", KVM_EXIT_INTR);
            V("KVM_EXIT_INTERNAL_ERROR", KVM_EXIT_INTERNAL_ERROR);
            V("KVM_EXIT_SYSTEM_EVENT", KVM_EXIT_SYSTEM_EVENT);

            V("sizeof.kvm_userspace_memory_region", sizeof(struct kvm_userspace_memory_region));
            OFF(kvm_userspace_memory_region, slot);
            OFF(kvm_userspace_memory_region, flags);
            OFF(kvm_userspace_memory_region, guest_phys_addr);
            OFF(kvm_userspace_memory_region, memory_size);
            OFF(kvm_userspace_memory_region, userspace_addr);

            V("sizeof.kvm_regs", sizeof(struct kvm_regs));
            OFF(kvm_regs, rax); OFF(kvm_regs, rbx); OFF(kvm_regs, rcx); OFF(kvm_regs, rdx);
            OFF(kvm_regs, rsi); OFF(kvm_regs, rdi); OFF(kvm_regs, rsp); OFF(kvm_regs, rbp);
            OFF(kvm_regs, r8); OFF(kvm_regs, r9); OFF(kvm_regs, r10); OFF(kvm_regs, r11);
            OFF(kvm_regs, r12); OFF(kvm_regs, r13); OFF(kvm_regs, r14); OFF(kvm_regs, r15);
            OFF(kvm_regs, rip); OFF(kvm_regs, rflags);

            V("sizeof.kvm_segment", sizeof(struct kvm_segment));
            OFF(kvm_segment, base); OFF(kvm_segment, limit); OFF(kvm_segment, selector);
            OFF(kvm_segment, type); OFF(kvm_segment, present); OFF(kvm_segment, dpl);
            OFF(kvm_segment, db); OFF(kvm_segment, s); OFF(kvm_segment, l); OFF(kvm_segment, g);
            OFF(kvm_segment, avl); OFF(kvm_segment, unusable); OFF(kvm_segment, padding);

            V("sizeof.kvm_dtable", sizeof(struct kvm_dtable));
            OFF(kvm_dtable, base); OFF(kvm_dtable, limit);

            V("sizeof.kvm_sregs", sizeof(struct kvm_sregs));
            OFF(kvm_sregs, cs); OFF(kvm_sregs, ds); OFF(kvm_sregs, es); OFF(kvm_sregs, fs);
            OFF(kvm_sregs, gs); OFF(kvm_sregs, ss); OFF(kvm_sregs, tr); OFF(kvm_sregs, ldt);
            OFF(kvm_sregs, gdt); OFF(kvm_sregs, idt); OFF(kvm_sregs, cr0); OFF(kvm_sregs, cr2);
            OFF(kvm_sregs, cr3); OFF(kvm_sregs, cr4); OFF(kvm_sregs, cr8); OFF(kvm_sregs, efer);
            OFF(kvm_sregs, apic_base); OFF(kvm_sregs, interrupt_bitmap);
            V("sizeof.kvm_sregs.interrupt_bitmap", sizeof(((struct kvm_sregs *)0)->interrupt_bitmap));

            OFF(kvm_run, request_interrupt_window);
            OFF(kvm_run, immediate_exit);
            OFF(kvm_run, exit_reason);
            OFF(kvm_run, ready_for_interrupt_injection);
            OFF(kvm_run, if_flag);
            OFF(kvm_run, flags);
            OFF(kvm_run, cr8);
            OFF(kvm_run, apic_base);
            OFF(kvm_run, mmio);
            V("kvm_run.mmio.phys_addr", offsetof(struct kvm_run, mmio.phys_addr) - offsetof(struct kvm_run, mmio));
            V("kvm_run.mmio.data", offsetof(struct kvm_run, mmio.data) - offsetof(struct kvm_run, mmio));
            V("kvm_run.mmio.len", offsetof(struct kvm_run, mmio.len) - offsetof(struct kvm_run, mmio));
            V("kvm_run.mmio.is_write", offsetof(struct kvm_run, mmio.is_write) - offsetof(struct kvm_run, mmio));
            V("sizeof.kvm_run.mmio", sizeof(((struct kvm_run *)0)->mmio));
            V("sizeof.kvm_run.mmio.data", sizeof(((struct kvm_run *)0)->mmio.data));
            V("sizeof.kvm_run", sizeof(struct kvm_run));
            return 0;
        }
        """;

    private static readonly Lazy<IReadOnlyDictionary<string, ulong>> Headers = new(() => CProgram.RunForValues(Probe));

    public static TheoryData<string, ulong> Ioctls => new()
    {
        { "KVM_API_VERSION", (ulong)KvmAbi.ApiVersion },
        { "KVM_GET_API_VERSION", KvmAbi.GetApiVersion },
        { "KVM_CREATE_VM", KvmAbi.CreateVm },
        { "KVM_GET_VCPU_MMAP_SIZE", KvmAbi.GetVcpuMmapSize },
        { "KVM_CREATE_VCPU", KvmAbi.CreateVcpu },
        { "KVM_SET_USER_MEMORY_REGION", KvmAbi.SetUserMemoryRegion },
        { "KVM_RUN", KvmAbi.Run },
        { "KVM_GET_REGS", KvmAbi.GetRegs },
        { "KVM_SET_REGS", KvmAbi.SetRegs },
        { "KVM_GET_SREGS", KvmAbi.GetSregs },
        { "KVM_SET_SREGS", KvmAbi.SetSregs },
    };

    public static TheoryData<string, KvmExitReason> ExitReasons => new()
    {
        { "KVM_EXIT_UNKNOWN", KvmExitReason.Unknown },
        { "KVM_EXIT_EXCEPTION", KvmExitReason.Exception },
        { "KVM_EXIT_IO", KvmExitReason.Io },
        { "KVM_EXIT_HYPERCALL", KvmExitReason.Hypercall },
        { "KVM_EXIT_DEBUG", KvmExitReason.Debug },
        { "KVM_EXIT_HLT", KvmExitReason.Hlt },
        { "KVM_EXIT_MMIO", KvmExitReason.Mmio },
        { "KVM_EXIT_IRQ_WINDOW_OPEN", KvmExitReason.IrqWindowOpen },
        { "KVM_EXIT_SHUTDOWN", KvmExitReason.Shutdown },
        { "KVM_EXIT_FAIL_ENTRY", KvmExitReason.FailEntry },
        { "KVM_EXIT_INTR", KvmExitReason.Interrupted },
        { "KVM_EXIT_INTERNAL_ERROR", KvmExitReason.InternalError },
        { "KVM_EXIT_SYSTEM_EVENT", KvmExitReason.SystemEvent },
    };

    [Theory]
    [MemberData(nameof(Ioctls))]
    public void Ioctl_numbers_match_the_kernel_headers(string name, ulong value) =>
        Assert.Equal(Headers.Value[name], value);

    [Theory]
    [MemberData(nameof(ExitReasons))]
    public void Exit_reasons_match_the_kernel_headers(string name, KvmExitReason value) =>
        Assert.Equal(Headers.Value[name], (ulong)value);

    [Fact]
    public void Memory_region_layout_matches_the_kernel()
    {
        AssertSize<KvmMemoryRegion>("kvm_userspace_memory_region");
        AssertOffsets<KvmMemoryRegion>(
            "kvm_userspace_memory_region",
            ("slot", nameof(KvmMemoryRegion.Slot)),
            ("flags", nameof(KvmMemoryRegion.Flags)),
            ("guest_phys_addr", nameof(KvmMemoryRegion.GuestPhysicalAddress)),
            ("memory_size", nameof(KvmMemoryRegion.MemorySize)),
            ("userspace_addr", nameof(KvmMemoryRegion.UserspaceAddress)));
    }

    [Fact]
    public void Regs_layout_matches_the_kernel()
    {
        AssertSize<KvmRegs>("kvm_regs");
        string[] names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"];
        AssertOffsets<KvmRegs>("kvm_regs", [.. names.Select(n => (n, char.ToUpperInvariant(n[0]) + n[1..]))]);
    }

    [Fact]
    public void Segment_and_dtable_layouts_match_the_kernel()
    {
        AssertSize<KvmSegment>("kvm_segment");
        string[] names = ["base", "limit", "selector", "type", "present", "dpl", "db", "s", "l", "g", "avl", "unusable", "padding"];
        AssertOffsets<KvmSegment>("kvm_segment", [.. names.Select(n => (n, char.ToUpperInvariant(n[0]) + n[1..]))]);

        AssertSize<KvmDtable>("kvm_dtable");
        AssertOffsets<KvmDtable>("kvm_dtable", ("base", nameof(KvmDtable.Base)), ("limit", nameof(KvmDtable.Limit)));
    }

    [Fact]
    public void Sregs_layout_matches_the_kernel()
    {
        AssertSize<KvmSregs>("kvm_sregs");
        Assert.Equal(Headers.Value["sizeof.kvm_sregs.interrupt_bitmap"], (ulong)sizeof(KvmInterruptBitmap));
        AssertOffsets<KvmSregs>(
            "kvm_sregs",
            ("cs", nameof(KvmSregs.Cs)),
            ("ds", nameof(KvmSregs.Ds)),
            ("es", nameof(KvmSregs.Es)),
            ("fs", nameof(KvmSregs.Fs)),
            ("gs", nameof(KvmSregs.Gs)),
            ("ss", nameof(KvmSregs.Ss)),
            ("tr", nameof(KvmSregs.Tr)),
            ("ldt", nameof(KvmSregs.Ldt)),
            ("gdt", nameof(KvmSregs.Gdt)),
            ("idt", nameof(KvmSregs.Idt)),
            ("cr0", nameof(KvmSregs.Cr0)),
            ("cr2", nameof(KvmSregs.Cr2)),
            ("cr3", nameof(KvmSregs.Cr3)),
            ("cr4", nameof(KvmSregs.Cr4)),
            ("cr8", nameof(KvmSregs.Cr8)),
            ("efer", nameof(KvmSregs.Efer)),
            ("apic_base", nameof(KvmSregs.ApicBase)),
            ("interrupt_bitmap", nameof(KvmSregs.InterruptBitmap)));
    }

    [Fact]
    public void Kvm_run_header_and_mmio_layouts_match_the_kernel()
    {
        AssertOffsets<KvmRunHeader>(
            "kvm_run",
            ("request_interrupt_window", nameof(KvmRunHeader.RequestInterruptWindow)),
            ("immediate_exit", nameof(KvmRunHeader.ImmediateExit)),
            ("exit_reason", nameof(KvmRunHeader.ExitReason)),
            ("ready_for_interrupt_injection", nameof(KvmRunHeader.ReadyForInterruptInjection)),
            ("if_flag", nameof(KvmRunHeader.IfFlag)),
            ("flags", nameof(KvmRunHeader.Flags)),
            ("cr8", nameof(KvmRunHeader.Cr8)),
            ("apic_base", nameof(KvmRunHeader.ApicBase)),
            ("mmio", nameof(KvmRunHeader.Mmio)));
        Assert.True((ulong)sizeof(KvmRunHeader) <= Headers.Value["sizeof.kvm_run"], "KvmRunHeader reaches past the kernel's kvm_run");

        Assert.Equal(Headers.Value["sizeof.kvm_run.mmio"], (ulong)sizeof(KvmRunMmio));
        Assert.Equal((ulong)sizeof(ulong), Headers.Value["sizeof.kvm_run.mmio.data"]);
        AssertOffsets<KvmRunMmio>(
            "kvm_run.mmio",
            ("phys_addr", nameof(KvmRunMmio.PhysAddr)),
            ("data", nameof(KvmRunMmio.Data)),
            ("len", nameof(KvmRunMmio.Len)),
            ("is_write", nameof(KvmRunMmio.IsWrite)));
    }

    private static void AssertSize<T>(string cStruct)
        where T : unmanaged =>
        Assert.Equal(Headers.Value[$"sizeof.{cStruct}"], (ulong)sizeof(T));

    private static void AssertOffsets<T>(string cStruct, params (string CField, string Field)[] fields)
    {
        foreach (var (cField, field) in fields)
        {
            Assert.True(
                Headers.Value[$"{cStruct}.{cField}"] == (ulong)Marshal.OffsetOf<T>(field),
                $"{typeof(T).Name}.{field} is at {Marshal.OffsetOf<T>(field)}, the kernel's {cStruct}.{cField} at {Headers.Value[$"{cStruct}.{cField}"]}");
        }
    }
}
