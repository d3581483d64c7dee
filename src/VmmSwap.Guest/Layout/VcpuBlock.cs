namespace VmmSwap.Guest.Layout;

/// <summary>
/// Field offsets in one vCPU's block in the control slot. The host writes the parameters before
/// a run; the guest keeps the counters and <see cref="Current"/> up to date as it goes, so the
/// host's watchdog can tell a vCPU that makes progress from one stuck in a fault, and where.
/// </summary>
public static class VcpuBlock
{
    /// <summary>Parameter: guest-physical address of the vCPU's page-address table (one u64 per page).</summary>
    public const int PageTable = 0x00;

    /// <summary>Parameter: guest-physical address of the page-checksum table (one u64 per page).</summary>
    public const int ChecksumTable = 0x08;

    /// <summary>Parameter: guest-physical address of the first-touch log (one u64 TSC delta per page; 0 = not touched).</summary>
    public const int Log = 0x10;

    /// <summary>Parameter: how many of the vCPU's pages each sweep visits.</summary>
    public const int Limit = 0x18;

    /// <summary>Parameter: sweeps before the guest reports done and starts counting again; 0 = never done.</summary>
    public const int Sweeps = 0x20;

    /// <summary>The xorshift64 state choosing writes, offsets and values; seeded by the host, kept by the guest.</summary>
    public const int Random = 0x28;

    /// <summary>Counter: page visits.</summary>
    public const int Accesses = 0x30;

    /// <summary>Counter: page writes.</summary>
    public const int Writes = 0x38;

    /// <summary>Counter: first touches (timed into the log).</summary>
    public const int FirstTouches = 0x40;

    /// <summary>Counter: pages read back other than last written.</summary>
    public const int Mismatches = 0x48;

    /// <summary>The guest-physical address of the page being visited.</summary>
    public const int Current = 0x50;

    /// <summary>
    /// Set by the host to stop the run; the guest looks at it before each page visit and reports
    /// <see cref="MmioPort.Stopped"/>, so a stop never falls between a write and its checksum.
    /// </summary>
    public const int StopRequested = 0x58;

    /// <summary>Bytes of the block the fields take; the rest is the vCPU's stack.</summary>
    public const int FieldBytes = 0x60;
}
