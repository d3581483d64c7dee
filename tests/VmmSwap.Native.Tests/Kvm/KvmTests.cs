using VmmSwap.Guest.Layout;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Kvm;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Kvm;

/// <summary>
/// The KVM bindings against the real /dev/kvm: VMs, vCPUs, registers, memory slots, exits, the
/// kick and a userfaultfd fault raised by a vCPU. Past ~300 lines because they share the small
/// guests they assemble, and each binding's behaviour on this kernel is pinned here in one place.
/// </summary>
public sealed unsafe class KvmTests
{
    private const ulong SlotSize = 2 << 20;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_missing_device_is_a_typed_error_that_says_how_to_enable_kvm()
    {
        var error = Assert.Throws<KvmUnavailableException>(() => KvmSystem.Open("/nonexistent/kvm"));
        Assert.Equal(Libc.ENOENT, error.Errno);
        Assert.Contains("open(/nonexistent/kvm)", error.Message, StringComparison.Ordinal);
        Assert.Contains("ENOENT", error.Message, StringComparison.Ordinal);
        foreach (var module in new[] { "kvm_intel", "kvm_amd", "kvm_pvm" })
        {
            Assert.Contains(module, error.Fix, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_device_that_is_not_kvm_is_refused_by_the_api_version_check()
    {
        var error = Assert.Throws<KvmUnavailableException>(() => KvmSystem.Open("/dev/null"));
        Assert.Contains("KVM_GET_API_VERSION", error.Message, StringComparison.Ordinal);
        Assert.Contains("ENOTTY", error.Message, StringComparison.Ordinal);
    }

    [KvmFact]
    public void Kvm_opens_with_a_kvm_run_area_of_whole_pages()
    {
        using var kvm = KvmSystem.Open();
        Assert.True(kvm.VcpuMmapSize >= SystemPageSizes.PageSize, $"KVM_GET_VCPU_MMAP_SIZE gave {kvm.VcpuMmapSize}");
        Assert.Equal(0, kvm.VcpuMmapSize % SystemPageSizes.PageSize);
    }

    [KvmFact]
    public void A_vcpu_reads_back_the_registers_it_was_given()
    {
        using var kvm = KvmSystem.Open();
        using var vm = kvm.CreateVm();
        using var vcpu = vm.CreateVcpu(0);
        Assert.Equal(0, vcpu.Id);

        var regs = new KvmRegs { Rax = 0x1111, Rbx = 0x2222, R15 = 0xF0F0_F0F0_F0F0_F0F0, Rsp = 0x8000, Rip = 0x4000, Rflags = 0x2 };
        vcpu.SetRegs(regs);
        Assert.Equal(regs, vcpu.GetRegs());
    }

    [KvmFact]
    public void A_vcpu_reads_back_long_mode_sregs()
    {
        using var kvm = KvmSystem.Open();
        using var vm = kvm.CreateVm();
        using var vcpu = vm.CreateVcpu(0);

        var sregs = vcpu.GetSregs();
        LongMode.SetUser(ref sregs, pageTableRoot: 0x1000);
        vcpu.SetSregs(sregs);

        var back = vcpu.GetSregs();
        Assert.Equal(sregs.Cr3, back.Cr3);
        Assert.Equal(sregs.Cr0, back.Cr0 & sregs.Cr0);
        Assert.Equal(sregs.Cr4, back.Cr4 & sregs.Cr4);
        Assert.Equal(sregs.Efer, back.Efer & sregs.Efer);
        Assert.Equal(sregs.Cs.Selector, back.Cs.Selector);
        Assert.Equal(3, back.Cs.Dpl);
        Assert.Equal(1, back.Cs.L);
        Assert.Equal(sregs.Ss.Selector, back.Ss.Selector);
        Assert.Equal(3, back.Ss.Dpl);
    }

    [KvmFact]
    public void Two_vcpus_of_one_vm_get_their_own_ids_and_a_duplicate_id_is_refused()
    {
        using var kvm = KvmSystem.Open();
        using var vm = kvm.CreateVm();
        using var first = vm.CreateVcpu(0);
        using var second = vm.CreateVcpu(1);
        Assert.Equal(1, second.Id);

        var error = Assert.Throws<NativeCallException>(() => vm.CreateVcpu(1));
        Assert.Equal("ioctl(KVM_CREATE_VCPU)", error.Call);
        Assert.Equal(Libc.EEXIST, error.Errno);
    }

    [KvmFact]
    public void A_memfd_mapping_registers_as_a_memory_slot_and_an_overlapping_slot_is_refused()
    {
        using var kvm = KvmSystem.Open();
        using var vm = kvm.CreateVm();
        using var memFd = MemFd.Create("kvm slot", (long)SlotSize);
        using var mapping = MemoryMapping.MapShared(memFd, 0, SlotSize, writable: true);

        vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = 0, GuestPhysicalAddress = 0, MemorySize = SlotSize, UserspaceAddress = (ulong)mapping.Address });

        var overlap = new KvmMemoryRegion { Slot = 1, GuestPhysicalAddress = SlotSize / 2, MemorySize = SlotSize, UserspaceAddress = (ulong)mapping.Address };
        var error = Assert.Throws<NativeCallException>(() => vm.SetUserMemoryRegion(overlap));
        Assert.Equal(Libc.EEXIST, error.Errno);
        Assert.Contains("KVM_SET_USER_MEMORY_REGION", error.Message, StringComparison.Ordinal);
        Assert.Contains("slot 1", error.Message, StringComparison.Ordinal);

        vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = 0, UserspaceAddress = (ulong)mapping.Address });
        vm.SetUserMemoryRegion(overlap);
    }

    [KvmFact]
    public void A_cpl3_guest_store_to_an_address_outside_every_slot_exits_as_mmio_and_the_guest_resumes_after_it()
    {
        // mov rax, imm64; mov [abs32], rax -- twice, then jmp $.
        byte[] code =
        [
            0x48, 0xB8, .. BitConverter.GetBytes(0x1122_3344_5566_7788UL),
            0x48, 0x89, 0x04, 0x25, .. BitConverter.GetBytes((uint)(KvmGuest.MmioBase + 0x08)),
            0x48, 0xB8, .. BitConverter.GetBytes(0x0BAD_F00D_CAFE_D00DUL),
            0x48, 0x89, 0x04, 0x25, .. BitConverter.GetBytes((uint)(KvmGuest.MmioBase + 0x10)),
            0xEB, 0xFE,
        ];
        using var guest = new KvmGuest(code);

        Assert.Equal(KvmExitReason.Mmio, guest.Vcpu.Run());
        Assert.Equal(KvmExitReason.Mmio, guest.Vcpu.ExitReason);
        Assert.Equal(new KvmMmioExit(KvmGuest.MmioBase + 0x08, 0x1122_3344_5566_7788UL, 8, IsWrite: true), guest.Vcpu.Mmio);

        Assert.Equal(KvmExitReason.Mmio, guest.Vcpu.Run());
        Assert.Equal(new KvmMmioExit(KvmGuest.MmioBase + 0x10, 0x0BAD_F00D_CAFE_D00DUL, 8, IsWrite: true), guest.Vcpu.Mmio);
        Assert.Equal(0x0BAD_F00D_CAFE_D00DUL, guest.Vcpu.GetRegs().Rax);
    }

    [KvmFact]
    public void A_guest_load_from_a_missing_page_of_a_registered_slot_is_one_userfaultfd_fault_and_the_guest_sees_the_bytes_served()
    {
        const ulong Touched = 0x10_0000;
        const ulong Served = 0x5A5A_5A5A_5A5A_5A5AUL;

        using var guest = new KvmGuest(LoadThenStoreOut(Touched));
        using var uffd = Userfaultfd.Create();
        uffd.Register(guest.Mapping.Address, guest.Mapping.Length);
        var page = new byte[SystemPageSizes.PageSize];
        Array.Fill(page, (byte)0x5A);
        var faults = new List<UffdEvent>();

        var exit = KvmExitReason.Unknown;
        using (new FaultServer(uffd, (u, e) =>
        {
            faults.Add(e);
            fixed (byte* p = page)
            {
                u.Copy((nint)(e.Address & ~(ulong)(page.Length - 1)), (nint)p, (ulong)page.Length, wake: true);
            }
        }))
        {
            Assert.True(Blocking.RunOnThread(() => exit = guest.Vcpu.Run(), Deadline), "KVM_RUN did not return: the guest's fault was never served");
        }

        Assert.Equal(KvmExitReason.Mmio, exit);
        Assert.Equal(new KvmMmioExit(KvmGuest.MmioBase + 0x08, Served, 8, IsWrite: true), guest.Vcpu.Mmio);
        var fault = Assert.Single(faults);
        Assert.Equal(UffdEventKind.PageFault, fault.Kind);
        Assert.Equal((ulong)guest.Mapping.Address + Touched, fault.Address);
        Assert.False(fault.IsWrite);
    }

    [KvmFact]
    public void A_guest_fault_nobody_serves_holds_the_vcpu_in_kvm_run_until_it_is_served()
    {
        // The vCPU waits in the fault like any thread would: KVM_RUN neither returns nor fails
        // with EFAULT while the fault is queued, and goes on once UFFDIO_COPY wakes it.
        const ulong Touched = 0x10_0000;
        const ulong Served = 0x3C3C_3C3C_3C3C_3C3CUL;

        using var guest = new KvmGuest(LoadThenStoreOut(Touched));
        using var uffd = Userfaultfd.Create();
        uffd.Register(guest.Mapping.Address, guest.Mapping.Length);

        using var returned = new ManualResetEventSlim();
        var exit = KvmExitReason.Unknown;
        Exception? error = null;
        var vcpuThread = new Thread(() =>
        {
            try
            {
                exit = guest.Vcpu.Run();
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                returned.Set();
            }
        })
        { IsBackground = true, Name = "test vcpu" };
        vcpuThread.Start();

        var fault = WaitForOneEvent(uffd);
        Assert.Equal(UffdEventKind.PageFault, fault.Kind);
        Assert.Equal((ulong)guest.Mapping.Address + Touched, fault.Address);
        Assert.False(returned.Wait(TimeSpan.FromMilliseconds(500)), $"KVM_RUN returned with its fault unserved: {error?.Message ?? exit.ToString()}");

        var page = new byte[SystemPageSizes.PageSize];
        Array.Fill(page, (byte)0x3C);
        fixed (byte* p = page)
        {
            uffd.Copy(guest.Mapping.Address + (nint)Touched, (nint)p, (ulong)page.Length, wake: true);
        }

        Assert.True(returned.Wait(Deadline), "KVM_RUN did not return after its fault was served");
        Assert.Null(error);
        Assert.Equal(KvmExitReason.Mmio, exit);
        Assert.Equal(new KvmMmioExit(KvmGuest.MmioBase + 0x08, Served, 8, IsWrite: true), guest.Vcpu.Mmio);
    }

    [KvmFact]
    public void A_kick_gets_a_vcpu_waiting_in_an_unserved_fault_out_of_kvm_run_and_the_fault_comes_again_on_the_next_run()
    {
        const ulong Touched = 0x10_0000;
        const ulong Served = 0x4B4B_4B4B_4B4B_4B4BUL;

        using var guest = new KvmGuest(LoadThenStoreOut(Touched));
        using var uffd = Userfaultfd.Create();
        uffd.Register(guest.Mapping.Address + (nint)Touched, (ulong)SystemPageSizes.PageSize);

        VcpuKick? kick = null;
        using var kickReady = new ManualResetEventSlim();
        var exits = new List<KvmExitReason>();
        using var interrupted = new ManualResetEventSlim();
        using var returned = new ManualResetEventSlim();
        Exception? error = null;
        var vcpuThread = new Thread(() =>
        {
            try
            {
                kick = VcpuKick.ForCurrentThread(guest.Vcpu);
                kickReady.Set();
                exits.Add(guest.Vcpu.Run());
                guest.Vcpu.ImmediateExit = false;
                interrupted.Set();
                exits.Add(guest.Vcpu.Run());
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                interrupted.Set();
                returned.Set();
            }
        })
        { IsBackground = true, Name = "test vcpu" };
        vcpuThread.Start();

        Assert.True(kickReady.Wait(Deadline));
        Assert.Equal((ulong)guest.Mapping.Address + Touched, WaitForOneEvent(uffd).Address);
        kick!.Kick();
        Assert.True(interrupted.Wait(Deadline), "the kick did not get the vCPU out of KVM_RUN");
        Assert.Null(error);
        Assert.Equal([KvmExitReason.Interrupted], exits);

        // The guest never got past the load: running it again raises the same fault.
        Assert.Equal((ulong)guest.Mapping.Address + Touched, WaitForOneEvent(uffd).Address);
        var page = new byte[SystemPageSizes.PageSize];
        Array.Fill(page, (byte)0x4B);
        fixed (byte* p = page)
        {
            uffd.Copy(guest.Mapping.Address + (nint)Touched, (nint)p, (ulong)page.Length, wake: true);
        }

        Assert.True(returned.Wait(Deadline), "KVM_RUN did not return after its fault was served");
        Assert.Null(error);
        Assert.Equal([KvmExitReason.Interrupted, KvmExitReason.Mmio], exits);
        Assert.Equal(new KvmMmioExit(KvmGuest.MmioBase + 0x08, Served, 8, IsWrite: true), guest.Vcpu.Mmio);
    }

    private static UffdEvent WaitForOneEvent(Userfaultfd uffd)
    {
        var events = new UffdEvent[4];
        var deadline = DateTime.UtcNow + Deadline;
        int n;
        while ((n = uffd.ReadEvents(events)) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the guest's touch raised no userfaultfd event");
            Thread.Sleep(1);
        }

        Assert.Equal(1, n);
        return events[0];
    }

    // mov rax, [touched]; mov [MmioBase + 8], rax; jmp $: the guest reads one page and stores
    // what it read out through an MMIO exit.
    private static byte[] LoadThenStoreOut(ulong touched) =>
    [
        0x48, 0x8B, 0x04, 0x25, .. BitConverter.GetBytes((uint)touched),
        0x48, 0x89, 0x04, 0x25, .. BitConverter.GetBytes((uint)(KvmGuest.MmioBase + 0x08)),
        0xEB, 0xFE,
    ];
}
