namespace VmmSwap.Guest.Vcpus;

/// <summary>A vCPU's run ended with something the guest program never does: an exit other than its reports, or a KVM_RUN failure.</summary>
public sealed class GuestVcpuFailedException : Exception
{
    /// <summary>Creates the failure of vCPU <paramref name="vcpu"/>, saying <paramref name="what"/> happened.</summary>
    public GuestVcpuFailedException(int vcpu, string what, Exception? inner = null)
        : base($"vCPU {vcpu} {what}", inner)
    {
        Vcpu = vcpu;
    }

    /// <summary>The vCPU that failed.</summary>
    public int Vcpu { get; }
}
