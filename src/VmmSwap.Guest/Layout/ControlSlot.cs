namespace VmmSwap.Guest.Layout;

/// <summary>
/// Where things sit in the control slot, KVM slot 0 at guest-physical 0: everything the guest
/// needs that is not guest memory. It is a memfd of its own that is never registered with
/// userfaultfd, so the host may read it while the guest runs.
/// </summary>
/// <remarks>
/// <code>
/// 0x0000_1000  page tables: PML4, PDPT, then one PD per GiB mapped
/// 0x0010_0000  the guest program (GuestProgram)
/// 0x0011_0000  one 4 KiB block per vCPU: its parameters and counters (VcpuBlock), its stack on top
/// 0x0020_0000  per vCPU, one after the other: page addresses, page checksums, first-touch log
/// </code>
/// </remarks>
public static class ControlSlot
{
    /// <summary>The PML4's guest-physical address (CR3).</summary>
    public const ulong PageTableRoot = 0x1000;

    /// <summary>Room for the page tables: PML4, PDPT and up to 254 PDs.</summary>
    public const ulong PageTablesEnd = 0x10_0000;

    /// <summary>The guest program's first byte and entry point.</summary>
    public const ulong Code = 0x10_0000;

    /// <summary>The most the program may take.</summary>
    public const ulong CodeEnd = 0x11_0000;

    /// <summary>vCPU 0's block; vCPU n's is <see cref="VcpuBlockSize"/> further per n.</summary>
    public const ulong VcpuBlocks = 0x11_0000;

    /// <summary>One vCPU's block: parameters and counters at the bottom, the stack growing down from the top.</summary>
    public const ulong VcpuBlockSize = 0x1000;

    /// <summary>The most vCPUs one guest host runs.</summary>
    public const int MaxVcpus = (int)((Tables - VcpuBlocks) / VcpuBlockSize);

    /// <summary>Where the per-vCPU tables start.</summary>
    public const ulong Tables = 0x20_0000;

    /// <summary>Bytes per page in the tables: its address, its checksum, its first-touch time.</summary>
    public const ulong TableBytesPerPage = 3 * sizeof(ulong);

    /// <summary>The guest-physical address of vCPU <paramref name="vcpu"/>'s block.</summary>
    public static ulong VcpuBlock(int vcpu) => VcpuBlocks + ((ulong)vcpu * VcpuBlockSize);

    /// <summary>The control slot's size for <paramref name="totalPages"/> pages over all vCPUs, in whole 2 MiB pages.</summary>
    public static ulong Size(long totalPages) =>
        GuestPhysicalMap.AlignUp(Tables + ((ulong)totalPages * TableBytesPerPage), GuestPhysicalMap.LargePage);
}
