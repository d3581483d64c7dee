using System.Globalization;
using VmmSwap.Core.Guest;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Cli.Common;

/// <summary>Host memory: what is free for a new guest, and what a guest and its swap state hold.</summary>
public static class HostMemory
{
    // The name StagingMemory gives its memfd; the kernel shows it as "/memfd:<name> (deleted)".
    private const string StagingLinkPrefix = "/memfd:vmm-swap staging";

    /// <summary>MemAvailable from /proc/meminfo: what can be allocated without swapping, in bytes.</summary>
    public static long AvailableBytes()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                var kib = line["MemAvailable:".Length..].Trim().Split(' ')[0];
                return long.Parse(kib, NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new IOException("/proc/meminfo has no MemAvailable line (Linux 3.14 or later has it)");
    }

    /// <summary>
    /// Measures the RAM held for <paramref name="guest"/>: its memfds' allocated bytes, the staging
    /// memfd's, and the page cache of the swap file in <paramref name="swapDirectory"/>, the last two
    /// found among this process's open files.
    /// </summary>
    public static HostMemorySnapshot Measure(GuestMemory guest, string swapDirectory)
    {
        ArgumentNullException.ThrowIfNull(guest);
        long guestBytes = 0;
        foreach (var region in guest.Regions)
        {
            guestBytes += FileOps.Status(region.MemFd).AllocatedBytes;
        }

        long staging = 0;
        long swapCache = 0;
        foreach (var (fd, target) in OpenFiles.List())
        {
            try
            {
                if (target.StartsWith(StagingLinkPrefix, StringComparison.Ordinal))
                {
                    staging += OpenFiles.Borrow(fd, f => FileOps.Status(f).AllocatedBytes);
                }
                else if (OpenFiles.IsTmpFileIn(target, swapDirectory))
                {
                    swapCache += OpenFiles.Borrow(fd, PageCache.ResidentBytes);
                }
            }
            catch (NativeCallException)
            {
                // Closed by its owner meanwhile (e.g. swap just disabled): it holds nothing any more.
            }
        }

        return new HostMemorySnapshot(guestBytes, staging, swapCache);
    }
}
