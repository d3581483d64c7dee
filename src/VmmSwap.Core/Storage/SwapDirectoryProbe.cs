using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Storage;

/// <summary>
/// Checks, where the runtime starts, that a directory can hold the swap file: every kind of call
/// the swap file makes is made once on a small O_TMPFILE there. Without it a file system that
/// accepts O_TMPFILE but not the rest (hugetlbfs refuses pwrite, ramfs refuses hole punching)
/// passes until the first Enable, Trim or swap-in meets the failure.
/// </summary>
public static unsafe class SwapDirectoryProbe
{
    private const int Pages = 2;

    /// <summary>
    /// Throws <see cref="SwapDirectoryUnusableException"/> naming the step, the errno and a fix
    /// when <paramref name="directory"/> cannot hold the swap file. Leaves nothing behind: the
    /// probe file has no name and goes with its descriptor.
    /// </summary>
    public static void Check(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var length = PageSize.PagesToBytes(Pages);
        var written = new byte[length];
        Random.Shared.NextBytes(written);
        var zeros = new byte[PageSize.Bytes];
        var step = SwapDirectoryProbeStep.CreateFile;
        try
        {
            using var file = TmpFile.Create(directory);
            step = SwapDirectoryProbeStep.Write;
            FileOps.WriteAll(file, written, 0);
            step = SwapDirectoryProbeStep.Map;
            using var mapping = MemoryMapping.MapShared(file, 0, length, writable: false);
            step = SwapDirectoryProbeStep.ReadThroughMapping;
            fixed (byte* p = written)
            {
                if (!NativeBytes.Equal(mapping.Address, (nint)p, length))
                {
                    throw Unusable(directory, step, "the mapping showed other bytes than were written");
                }
            }

            step = SwapDirectoryProbeStep.PunchHole;
            FileOps.PunchHole(file, 0, PageSize.Bytes);
            fixed (byte* z = zeros)
            {
                if (!NativeBytes.Equal(mapping.Address, (nint)z, (ulong)PageSize.Bytes))
                {
                    throw Unusable(directory, step, "the punched page did not read back as zeros");
                }
            }

            step = SwapDirectoryProbeStep.SendFromMemFd;
            using var staging = MemFd.Create("vmm-swap probe", (long)length);
            FileOps.WriteAll(staging, written, 0);
            using var writer = FileOps.ReopenForWriting(file);
            FileOps.SendAll(writer, 0, staging, 0, (ulong)PageSize.Bytes);
            fixed (byte* p = written)
            {
                if (!NativeBytes.Equal(mapping.Address, (nint)p, (ulong)PageSize.Bytes))
                {
                    throw Unusable(directory, step, "the mapping showed other bytes than were sent");
                }
            }
        }
        catch (NativeCallException e)
        {
            throw new SwapDirectoryUnusableException(directory, step, e);
        }
    }

    private static SwapDirectoryUnusableException Unusable(string directory, SwapDirectoryProbeStep step, string detail) =>
        new(directory, step, detail, "use a directory on ext4, xfs, btrfs or tmpfs");
}
