using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.Jobs;

/// <summary>What every <see cref="JobDriver"/> of one PageHandler actor shares: its options, its log, the page-worker pool and the actor itself.</summary>
/// <param name="Options">The runtime's options (chunk sizes).</param>
/// <param name="Log">The PageHandler actor's log.</param>
/// <param name="Pool">The page-worker pool that executes planned work.</param>
/// <param name="Self">The PageHandler actor, which work answers.</param>
internal sealed record JobContext(VmmSwapOptions Options, ILoggingAdapter Log, IActorRef Pool, IActorRef Self);
