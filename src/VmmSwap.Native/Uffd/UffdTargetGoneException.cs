using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Uffd;

/// <summary>
/// The process that owns the registered memory has exited or exec'd (ESRCH, or ENOMEM from
/// REGISTER, or EINVAL during teardown). Its userfaultfd should be dropped, not treated as fatal.
/// </summary>
public sealed class UffdTargetGoneException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public UffdTargetGoneException(string call, int errno)
        : base(call, errno, "the process owning the registered memory has exited or exec'd") { }
}
