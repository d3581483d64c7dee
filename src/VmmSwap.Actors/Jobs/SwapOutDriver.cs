using Akka.Actor;
using Akka.Event;
using VmmSwap.Core;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Jobs;

/// <summary>Swap-out: each chunk writes runs of staging, up to swap-chunk-size in all (a page worker's sendfile, and their working-set copies); once staging is empty, the flush that syncs and drops the file's cache ends the job.</summary>
internal sealed class SwapOutDriver(PageHandler handler, JobContext context, IActorRef job)
    : BlockingEndDriver<SwapOutStep>(JobKind.SwapOut, handler, context, job)
{
    private protected override void Chunk() => Dispatch(Handler.PlanSwapOutStep(Options.SwapChunkBytes));

    private protected override void Completed(SwapOutStep step, Exception? error)
    {
        if (error is not null)
        {
            // A failed write leaves its pages in staging, and a failed sync stages again what it
            // would have freed.
            var restored = RestoreUnsynced(step);
            if (step is { EndsSwapOut: true, Durable.Synced: true })
            {
                // Synced: the pages are on disk; a failure to drop the cache loses nothing.
                Log.Warning("swap file synced but its page cache was not dropped: {0}", error.Message);
                Reply(0, true, null);
                return;
            }

            var what = restored > 0 ? $"{Kind} failed ({restored} written pages were not synced and are staged again)" : $"{Kind} failed";
            Reply(0, false, SwapFailure.From(error, what));
            return;
        }

        if (step.CopiesFailure is { } copies)
        {
            Log.Warning("working-set copies not written, the rest of this swap-out makes none (a swap-in reads those pages from their own slots): {0}", copies.Message);
        }

        Reply(Handler.CompleteSwapOutStep(step), step.EndsSwapOut, null);
    }

    private protected override long RestoreUnsynced(SwapOutStep step) => step.Durable.Synced ? 0 : Handler.RestoreNotDurable(step.Durable);
}
