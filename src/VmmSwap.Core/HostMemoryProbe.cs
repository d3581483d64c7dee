using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core;

/// <summary>
/// Measures the host memory and disk one page state holds beyond the guest's own: its staging
/// memfd and its swap file. Safe from any thread: it only asks the kernel about the two
/// descriptors, which stay open while a call uses them.
/// </summary>
public sealed class HostMemoryProbe
{
    private readonly SafeFd _staging;
    private readonly SafeFd _swapFile;

    internal HostMemoryProbe(SafeFd staging, SafeFd swapFile)
    {
        _staging = staging;
        _swapFile = swapFile;
    }

    /// <summary>
    /// The bytes held now. Throws <see cref="ObjectDisposedException"/> once the page state is
    /// closed, and <see cref="NativeCallException"/> when the kernel refuses a look.
    /// </summary>
    public HostMemoryHeld Measure() =>
        new(FileOps.Status(_staging).AllocatedBytes, FileOps.Status(_swapFile).AllocatedBytes, PageCache.ResidentBytes(_swapFile));
}
