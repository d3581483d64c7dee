using VmmSwap.Guest.Layout;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Kvm;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// What <c>--vcpu-kind</c> resolves to: KVM when asked for or by default when /dev/kvm opens;
/// threads when asked for, or by default (with the reason) when it does not.
/// </summary>
/// <param name="Kind">The kind that runs; meaningful when <paramref name="Error"/> is null.</param>
/// <param name="FallbackReason">Why the default fell back to threads; null when it did not.</param>
/// <param name="Error">Why the option was refused; null when accepted.</param>
public sealed record VcpuKindChoice(VcpuKind Kind, string? FallbackReason, string? Error)
{
    /// <summary>The option's values.</summary>
    public const string Kvm = "kvm", Thread = "thread";

    /// <summary>Resolves <paramref name="asked"/> (null: the default) for <paramref name="vcpus"/> vCPUs, opening /dev/kvm to see whether KVM is usable.</summary>
    public static VcpuKindChoice Resolve(string? asked, int vcpus) => Resolve(asked, vcpus, KvmUnusable);

    /// <summary>As <see cref="Resolve(string?, int)"/>, with <paramref name="kvmUnusable"/> saying why KVM cannot run (null: it can).</summary>
    internal static VcpuKindChoice Resolve(string? asked, int vcpus, Func<string?> kvmUnusable)
    {
        switch (asked)
        {
            case Thread:
                return new VcpuKindChoice(VcpuKind.Thread, null, null);
            case null or Kvm:
                break;
            default:
                return new VcpuKindChoice(VcpuKind.Thread, null, $"--vcpu-kind must be '{Kvm}' or '{Thread}', got '{asked}'; pass --vcpu-kind {Kvm} or --vcpu-kind {Thread}");
        }

        if (kvmUnusable() is { } reason)
        {
            return asked is null
                ? new VcpuKindChoice(VcpuKind.Thread, reason, null)
                : new VcpuKindChoice(VcpuKind.Kvm, null, $"--vcpu-kind {Kvm} needs a usable {KvmSystem.DevicePath}: {reason}; or pass --vcpu-kind {Thread}");
        }

        return vcpus > ControlSlot.MaxVcpus
            ? new VcpuKindChoice(VcpuKind.Kvm, null, $"--vcpus {vcpus} is more than the {ControlSlot.MaxVcpus} KVM vCPUs the guest host runs; pass fewer --vcpus or --vcpu-kind {Thread}")
            : new VcpuKindChoice(VcpuKind.Kvm, null, null);
    }

    private static string? KvmUnusable()
    {
        try
        {
            using var kvm = KvmSystem.Open();
            return null;
        }
        catch (NativeCallException e)
        {
            // KvmUnavailableException's message names the cause and the fix (module, permission).
            return e.Message;
        }
    }
}
