using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Workers;

/// <summary>Read the swap-file pages of <paramref name="Read"/>; answered with <see cref="FaultPath.FaultReadDone"/>.</summary>
internal sealed record ReadForFault(FaultRead Read);
