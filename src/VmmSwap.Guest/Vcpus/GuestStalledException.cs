namespace VmmSwap.Guest.Vcpus;

/// <summary>
/// One or more vCPUs made no progress within the host's deadline, e.g. because a page fault
/// they wait in is never served (KVM does not fail KVM_RUN for that: the vCPU just waits). The
/// host kicked them out of KVM_RUN; what each was touching is in <see cref="Stalls"/>.
/// </summary>
public sealed class GuestStalledException : Exception
{
    /// <summary>Creates the failure for <paramref name="stalls"/>.</summary>
    public GuestStalledException(IReadOnlyList<VcpuStall> stalls)
        : base($"the guest stalled: {string.Join("; ", stalls ?? throw new ArgumentNullException(nameof(stalls)))}")
    {
        Stalls = stalls;
    }

    /// <summary>The stalled vCPUs.</summary>
    public IReadOnlyList<VcpuStall> Stalls { get; }
}
