using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Staging;

/// <summary>
/// A copy of pages from guest memory into staging, planned by the page handler and executed
/// later, possibly on another thread. The copy runs in native code (docs/ARCHITECTURE.md, "GC safety").
/// </summary>
/// <param name="Source">The first guest host address.</param>
/// <param name="Destination">The first staging address.</param>
/// <param name="Length">Bytes to copy.</param>
public readonly record struct CopyOp(nint Source, nint Destination, ulong Length)
{
    /// <summary>Performs the copy.</summary>
    public void Execute() => NativeBytes.Copy(Destination, Source, Length);
}
