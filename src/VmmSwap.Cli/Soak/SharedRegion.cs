using System.Globalization;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// One guest region as the second process needs it: the parent's memfd descriptor (to take a copy
/// of with pidfd_getfd), the host address to map it at, and its size. Passed as <c>fd:address:size</c>.
/// </summary>
/// <param name="Fd">The memfd's descriptor number in the parent.</param>
/// <param name="Address">The region's host address in the parent, where the child maps it too.</param>
/// <param name="Size">The region's size in bytes.</param>
public sealed record SharedRegion(int Fd, nint Address, ulong Size)
{
    /// <summary>The region as one command-line argument.</summary>
    public string ToArgument() => string.Create(CultureInfo.InvariantCulture, $"{Fd}:{Address:x}:{Size}");

    /// <summary>Parses <see cref="ToArgument"/>'s form; null when <paramref name="text"/> is not one.</summary>
    public static SharedRegion? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var fd)
            && long.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var address)
            && ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            ? new SharedRegion(fd, (nint)address, size)
            : null;
    }
}
