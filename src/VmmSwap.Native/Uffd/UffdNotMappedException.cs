using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Uffd;

/// <summary>
/// UFFDIO_REGISTER or UNREGISTER found no mapping at the range in the address space behind the
/// userfaultfd (ENOMEM) while its process is alive: that process maps guest memory elsewhere.
/// </summary>
public sealed class UffdNotMappedException : NativeCallException
{
    /// <summary>Creates the exception for <paramref name="call"/> on <paramref name="address"/>..+<paramref name="length"/>.</summary>
    public UffdNotMappedException(string call, nint address, ulong length)
        : base(call, Libc.ENOMEM, $"the process behind this userfaultfd has no mapping at 0x{address:X}+0x{length:X}: it maps guest memory elsewhere")
    {
        Address = address;
        Length = length;
    }

    /// <summary>The start of the range.</summary>
    public nint Address { get; }

    /// <summary>The length of the range.</summary>
    public ulong Length { get; }
}
