namespace VmmSwap.Core.Storage;

/// <summary>
/// Working-set copies were not written: the swap directory's file system had less room than the
/// pages still staged and the copies need together, and a page's own slot comes first.
/// </summary>
public sealed class NoRoomForCopiesException : IOException
{
    /// <summary>Creates the failure for <paramref name="availableBytes"/> free of <paramref name="neededBytes"/> needed.</summary>
    public NoRoomForCopiesException(ulong availableBytes, ulong neededBytes)
        : base($"working-set copies skipped: the swap directory has {availableBytes} bytes free, and the pages still staged and the copies need {neededBytes}")
    {
        AvailableBytes = availableBytes;
        NeededBytes = neededBytes;
    }

    /// <summary>Bytes the file system had free (f_bavail * f_frsize).</summary>
    public ulong AvailableBytes { get; }

    /// <summary>Bytes the pages still staged and the copies needed.</summary>
    public ulong NeededBytes { get; }
}
