using Akka.Actor;
using VmmSwap.Core;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.Jobs;

/// <summary>Trim: each chunk compares one window of staging (zero pages, pages unchanged since their last write) on a page worker; the handler drops what it found.</summary>
internal sealed class TrimDriver(PageHandler handler, JobContext context, IActorRef job)
    : BlockingEndDriver<TrimWindow>(JobKind.Trim, handler, context, job)
{
    private readonly TrimContext _trim = handler.StartTrim();

    private protected override void Chunk()
    {
        if (_trim.Plan(Options.TrimChunkPages) is { } window)
        {
            Dispatch(window);
        }
        else
        {
            Reply(0, true, null);
        }
    }

    private protected override void Completed(TrimWindow window, Exception? error)
    {
        if (error is not null)
        {
            // A failed window drops nothing.
            Reply(0, false, SwapFailure.From(error, $"{Kind} failed"));
            return;
        }

        Reply(_trim.Complete(window), false, null);
    }
}
