using VmmSwap.Core.Work;

namespace VmmSwap.Core;

/// <summary>What <see cref="PageHandler.HandlePageFault(Native.Uffd.Userfaultfd, ulong, int)"/> did with a fault.</summary>
/// <param name="Source">Where its page came from, or <see cref="FaultSource.Parked"/>.</param>
/// <param name="Read">A new read to execute off the fault thread and pass back to <see cref="PageHandler.CompleteFaultRead"/>; null when none is needed.</param>
public readonly record struct FaultServed(FaultSource Source, FaultRead? Read = null);
