namespace VmmSwap.Core.Guest;

/// <summary>An address reported by the kernel or a caller lies outside every registered guest region, or is misaligned.</summary>
public sealed class InvalidGuestAddressException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="address"/>, saying why in <paramref name="reason"/>.</summary>
    public InvalidGuestAddressException(ulong address, string reason)
        : base($"guest address 0x{address:X} is invalid: {reason}") => Address = address;

    /// <summary>The offending address.</summary>
    public ulong Address { get; }
}
