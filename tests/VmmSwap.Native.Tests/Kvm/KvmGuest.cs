using VmmSwap.Guest.Layout;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Kvm;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests.Kvm;

/// <summary>
/// The smallest guest KVM runs natively under PVM: 64-bit code at CPL3 on a 2 MiB user page.
/// Guest-physical 0..2 MiB is one memfd slot holding the page tables (at 0x1000) and the code
/// (at <see cref="CodeAddress"/>); the page tables (the guest host's <see cref="LongMode"/>)
/// identity-map the first GiB with 2 MiB user pages, so from 2 MiB on they reach guest-physical
/// addresses no slot covers and every access there exits to the host as MMIO. The bytes go into the memfd with pwrite: managed code never
/// touches the mapping KVM uses.
/// </summary>
internal sealed class KvmGuest : IDisposable
{
    internal const ulong SlotSize = 2 << 20;
    internal const ulong MmioBase = SlotSize;
    internal const ulong CodeAddress = 0x4000;
    private const ulong Pml4 = 0x1000;

    private readonly KvmSystem _kvm;
    private readonly KvmVm _vm;

    internal KvmGuest(ReadOnlySpan<byte> code)
    {
        _kvm = KvmSystem.Open();
        try
        {
            _vm = _kvm.CreateVm();
            MemFd = Native.Memory.MemFd.Create("kvm guest", (long)SlotSize);
            Mapping = MemoryMapping.MapShared(MemFd, 0, SlotSize, writable: true);
            FileOps.WriteAll(MemFd, LongMode.PageTables(Pml4, 1UL << 30), (long)Pml4);
            FileOps.WriteAll(MemFd, code, (long)CodeAddress);
            _vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = 0, GuestPhysicalAddress = 0, MemorySize = SlotSize, UserspaceAddress = (ulong)Mapping.Address });

            Vcpu = _vm.CreateVcpu(0);
            var sregs = Vcpu.GetSregs();
            LongMode.SetUser(ref sregs, Pml4);
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

    public void Dispose()
    {
        Vcpu?.Dispose();
        _vm?.Dispose();
        Mapping?.Dispose();
        MemFd?.Dispose();
        _kvm.Dispose();
    }
}
