using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Kvm;

/// <summary>/dev/kvm is missing, refused, or speaks another API: the message says why and how to enable KVM.</summary>
public sealed class KvmUnavailableException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> with the fix in <paramref name="fix"/>.</summary>
    public KvmUnavailableException(string call, int errno, string fix)
        : base(call, errno, fix) => Fix = fix;

    /// <summary>What to change on the host so that KVM works.</summary>
    public string Fix { get; }
}
