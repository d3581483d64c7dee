using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Staging;

/// <summary>
/// A copy of pages from guest memory into staging, planned by the page handler and executed
/// later, possibly on another thread: a pwrite of the guest's bytes into the staging memfd, so the
/// copy runs in the kernel (docs/ARCHITECTURE.md, "GC safety").
/// </summary>
/// <remarks>
/// A pwrite of whole pages into the memfd allocates each staging page without zeroing it first,
/// and takes no page fault per page; a memcpy into the staging mapping does both, and the kernel
/// zeroing the pages it allocates was most of Enable's CPU (docs/BENCHMARKS.md). Measured on a
/// 512 MiB copy: 0.8-1.0 GiB/s through the mapping, 1.8-2.1 GiB/s with pwrite.
/// </remarks>
/// <param name="Source">The first guest host address.</param>
/// <param name="Staging">The staging memfd.</param>
/// <param name="Offset">Where in <paramref name="Staging"/> the pages go.</param>
/// <param name="Length">Bytes to copy.</param>
public readonly record struct CopyOp(nint Source, SafeFd Staging, long Offset, ulong Length)
{
    /// <summary>Performs the copy.</summary>
    public void Execute() => FileOps.WriteAll(Staging, Source, Length, Offset);
}
