namespace VmmSwap.Cli.Demo;

/// <summary>What runs the demo's vCPUs.</summary>
public enum VcpuKind
{
    /// <summary>KVM vCPUs running a guest program (VmmSwap.Guest): the guest's first touches are KVM's, as in a VMM.</summary>
    Kvm,

    /// <summary>.NET threads touching guest memory through native copies.</summary>
    Thread,
}
