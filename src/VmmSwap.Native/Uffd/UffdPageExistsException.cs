using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Uffd;

/// <summary>
/// UFFDIO_COPY or UFFDIO_ZEROPAGE found the page already populated (EEXIST). A handler must decide:
/// for a zero page it means another fault won the race and the faulting thread still needs a WAKE.
/// </summary>
public sealed class UffdPageExistsException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> at <paramref name="address"/>.</summary>
    public UffdPageExistsException(string call, ulong address)
        : base(call, Libc.EEXIST, $"page at 0x{address:X} is already populated") => Address = address;

    /// <summary>The first address that was already populated.</summary>
    public ulong Address { get; }
}
