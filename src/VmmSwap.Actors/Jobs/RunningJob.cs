using Akka.Actor;

namespace VmmSwap.Actors.Jobs;

/// <summary>The job a supervisor state runs: its kind and the <see cref="ChunkJob"/> actor running it.</summary>
/// <param name="Kind">Trim, swap-out or swap-in.</param>
/// <param name="Actor">The job's actor, watched by the supervisor.</param>
internal sealed record RunningJob(JobKind Kind, IActorRef Actor);
