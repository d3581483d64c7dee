namespace VmmSwap.Cli.Demo;

/// <summary>Options that passed <see cref="InputValidation"/>, with what the checks learned about the host.</summary>
/// <param name="Options">The validated options.</param>
/// <param name="SwapDirectory">
/// The swap directory as the kernel names it (symbolic links resolved), so the swap file can be
/// recognised among this process's open files.
/// </param>
/// <param name="VcpuKind">What runs the vCPUs.</param>
/// <param name="KvmFallbackReason">Why the vCPUs run as threads although KVM was the default; null when it was not so.</param>
public sealed record DemoSetup(DemoOptions Options, string SwapDirectory, VcpuKind VcpuKind = VcpuKind.Thread, string? KvmFallbackReason = null);
