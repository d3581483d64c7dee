namespace VmmSwap.Guest.Vcpus;

/// <summary>
/// A vCPU that made no progress within the host's deadline: it sat in KVM_RUN for
/// <paramref name="For"/> on the page at <paramref name="GuestPhysicalAddress"/> (host address
/// <paramref name="HostAddress"/>, null if no guest region holds it), typically waiting in a
/// userfaultfd fault nobody serves.
/// </summary>
public sealed record VcpuStall(int Vcpu, ulong GuestPhysicalAddress, nint? HostAddress, TimeSpan For)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"vCPU {Vcpu} made no progress for {For.TotalSeconds:F1} s at guest-physical 0x{GuestPhysicalAddress:X}" +
        (HostAddress is { } host ? $" (host 0x{host:X})" : string.Empty);
}
