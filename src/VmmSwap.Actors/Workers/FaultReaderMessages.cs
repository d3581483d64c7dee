using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Workers;

/// <summary>Read the swap-file pages of <paramref name="Read"/>; answered with <see cref="FaultPath.FaultReadDone"/>.</summary>
internal sealed record ReadForFault(FaultRead Read);

/// <summary>Start the read-around of <paramref name="Read"/>, which ran on the fault thread's io_uring and whose faults are answered.</summary>
internal sealed record ReadAroundFor(FaultRead Read);
