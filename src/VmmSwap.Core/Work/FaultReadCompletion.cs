namespace VmmSwap.Core.Work;

/// <summary>A fault read the ring has completed: take it back with <see cref="PageHandler.CompleteFaultRead"/>.</summary>
/// <param name="Read">The read.</param>
/// <param name="Error">Why it failed; null when it read its whole window.</param>
public readonly record struct FaultReadCompletion(FaultRead Read, Exception? Error);
