using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Kvm;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests;

/// <summary>
/// The smallest guest KVM runs natively under PVM: 64-bit code at CPL3 on a 2 MiB user page.
/// Guest-physical 0..2 MiB is one memfd slot holding the page tables (at 0x1000) and the code
/// (at <see cref="CodeAddress"/>); the page tables identity-map 0..4 MiB with two 2 MiB user
/// pages, so the second one reaches guest-physical addresses no slot covers and every access
/// there exits to the host as MMIO. The bytes go into the memfd with pwrite: managed code never
/// touches the mapping KVM uses.
/// </summary>
internal sealed class KvmGuest : IDisposable
{
    internal const ulong SlotSize = 2 << 20;
    internal const ulong MmioBase = SlotSize;
    internal const ulong CodeAddress = 0x4000;
    private const ulong Pml4 = 0x1000;
    private const ulong Pdpt = 0x2000;
    private const ulong Pd = 0x3000;

    // Page-table entry bits: present, writable, user, and (in a PD) a 2 MiB page.
    private const ulong Present = 1, Writable = 2, User = 4, LargePage = 0x80;

    private readonly KvmSystem _kvm;
    private readonly KvmVm _vm;

    internal KvmGuest(ReadOnlySpan<byte> code)
    {
        _kvm = KvmSystem.Open();
        try
        {
            _vm = _kvm.CreateVm();
            MemFd = Memory.MemFd.Create("kvm guest", (long)SlotSize);
            Mapping = MemoryMapping.MapShared(MemFd, 0, SlotSize, writable: true);
            WriteEntry(Pml4, Pdpt | Present | Writable | User);
            WriteEntry(Pdpt, Pd | Present | Writable | User);
            WriteEntry(Pd, 0 | Present | Writable | User | LargePage);
            WriteEntry(Pd + 8, MmioBase | Present | Writable | User | LargePage);
            FileOps.WriteAll(MemFd, code, (long)CodeAddress);
            _vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = 0, GuestPhysicalAddress = 0, MemorySize = SlotSize, UserspaceAddress = (ulong)Mapping.Address });

            Vcpu = _vm.CreateVcpu(0);
            var sregs = Vcpu.GetSregs();
            SetLongModeUser(ref sregs, Pml4);
            Vcpu.SetSregs(sregs);
            Vcpu.SetRegs(new KvmRegs { Rip = CodeAddress, Rsp = SlotSize - 0x1000, Rflags = 0x2 });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    internal SafeFd MemFd { get; } = null!;

    internal MemoryMapping Mapping { get; } = null!;

    internal KvmVcpu Vcpu { get; } = null!;

    /// <summary>Long mode with paging at <paramref name="pageTableRoot"/>, flat 64-bit code and data segments of DPL 3.</summary>
    internal static void SetLongModeUser(ref KvmSregs sregs, ulong pageTableRoot)
    {
        const ulong Cr0PePgAndFriends = 0x8005_0033; // PG, AM, WP, NE, ET, MP, PE
        const ulong Cr4Pae = 0x20;
        const ulong EferLmeLma = 0x500;
        sregs.Cr3 = pageTableRoot;
        sregs.Cr0 = Cr0PePgAndFriends;
        sregs.Cr4 = Cr4Pae;
        sregs.Efer = EferLmeLma;
        sregs.Cs = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = 0x33, Type = 11, Present = 1, Dpl = 3, S = 1, L = 1, G = 1 };
        var data = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = 0x2B, Type = 3, Present = 1, Dpl = 3, S = 1, Db = 1, G = 1 };
        sregs.Ss = data;
        sregs.Ds = data;
        sregs.Es = data;
        sregs.Fs = data;
        sregs.Gs = data;
    }

    public void Dispose()
    {
        Vcpu?.Dispose();
        _vm?.Dispose();
        Mapping?.Dispose();
        MemFd?.Dispose();
        _kvm.Dispose();
    }

    private void WriteEntry(ulong at, ulong entry) => FileOps.WriteAll(MemFd, BitConverter.GetBytes(entry), (long)at);
}
