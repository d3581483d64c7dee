using Mono.Unix.Native;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Testing;

/// <summary>
/// One memfd mapped more than once, the way a VMM maps the same guest memory at two host
/// addresses. Every mapping made here and every reopened descriptor is released on dispose.
/// </summary>
public sealed class SharedMemFd : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>Creates a memfd of <paramref name="pages"/> pages.</summary>
    public SharedMemFd(long pages) => Fd = MemFd.Create("vmm-swap shared", pages * SystemPageSizes.PageSize);

    /// <summary>The memfd.</summary>
    public SafeFd Fd { get; }

    /// <summary>A fresh writable MAP_SHARED mapping of <paramref name="pages"/> pages at page <paramref name="firstPage"/> of the memfd.</summary>
    public MemoryMapping Map(long firstPage, long pages)
    {
        var mapping = MemoryMapping.MapShared(Fd, firstPage * SystemPageSizes.PageSize, (ulong)(pages * SystemPageSizes.PageSize), writable: true);
        _owned.Add(mapping);
        return mapping;
    }

    /// <summary>A second descriptor of the same memfd (through /proc/self/fd), so it shares only the inode, not the number.</summary>
    public SafeFd Reopen()
    {
        var fd = Syscall.open($"/proc/self/fd/{Fd.Value}", OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"reopening memfd {Fd.Value} through /proc/self/fd failed: {Stdlib.GetLastError()}");
        }

        var reopened = new SafeFd(fd);
        _owned.Add(reopened);
        return reopened;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _owned.ForEach(o => o.Dispose());
        Fd.Dispose();
    }
}
