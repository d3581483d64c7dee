namespace VmmSwap.Core.Staging;

/// <summary>The batches that move one region to staging, and how many pages they move.</summary>
/// <param name="Batches">Independent batches; execute all before the guest runs again.</param>
/// <param name="Pages">Pages the batches move.</param>
public sealed record MoveToStagingPlan(IReadOnlyList<MoveToStagingBatch> Batches, long Pages);
