using VmmSwap.Native.Kvm;
using Xunit;

namespace VmmSwap.Testing;

/// <summary>
/// A fact that needs a usable /dev/kvm: where KVM cannot be opened it is skipped, and the skip
/// reason is the error's message, which says why and how to enable KVM.
/// </summary>
public sealed class KvmFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    /// <summary>Skips the test when /dev/kvm cannot be opened.</summary>
    public KvmFactAttribute()
    {
        if (Unavailable.Value is { } reason)
        {
            Skip = reason;
        }
    }

    private static string? Probe()
    {
        try
        {
            using var kvm = KvmSystem.Open();
            return null;
        }
        catch (KvmUnavailableException e)
        {
            return $"KVM is not usable here: {e.Message}";
        }
    }
}
