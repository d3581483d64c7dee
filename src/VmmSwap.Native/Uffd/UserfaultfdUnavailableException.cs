using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Uffd;

/// <summary>The kernel or this process's permissions do not allow a userfaultfd of the kind needed.</summary>
public sealed class UserfaultfdUnavailableException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> with the fix in <paramref name="fix"/>.</summary>
    public UserfaultfdUnavailableException(string call, int errno, string fix)
        : base(call, errno, fix) => Fix = fix;

    /// <summary>What to change on the host so that userfaultfd works.</summary>
    public string Fix { get; }
}
