namespace VmmSwap.Guest.Layout;

/// <summary>
/// The guest's reports to the host: 8-byte stores to guest-physical addresses no slot covers, so
/// each is a KVM_EXIT_MMIO on the reporting vCPU's thread. OUT would be simpler but raises #GP at
/// CPL3 under PVM (IOPL is cleared), and only CPL3 code runs natively there.
/// </summary>
public enum MmioPort : ulong
{
    /// <summary>A sweep over the vCPU's pages is done; the data is the guest's TSC.</summary>
    Progress = GuestPhysicalMap.Mmio,

    /// <summary>A page read back other than last written; the data is its index in the vCPU's pages.</summary>
    Mismatch = GuestPhysicalMap.Mmio + 8,

    /// <summary>The sweeps asked for are done; the data is the guest's TSC.</summary>
    Done = GuestPhysicalMap.Mmio + 16,

    /// <summary>The guest saw <see cref="VcpuBlock.StopRequested"/> between two page visits and stopped; the data is the page index it would have visited next.</summary>
    Stopped = GuestPhysicalMap.Mmio + 24,
}
