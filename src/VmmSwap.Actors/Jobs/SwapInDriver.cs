using Akka.Actor;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Core;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// Swap-in: the copies into the guest stay on the fault thread, in bounded steps, because they
/// would race with faults on the same pages; the swap file is read up to
/// <see cref="SwapInContext.ReadsAhead"/> windows ahead on page workers (the work in flight), a
/// new read planned whenever a buffer is free, so one is queued at the disk while the fault
/// thread plans the next. A chunk is a run of steps, each a message of its own
/// (<see cref="ContinueSwapIn"/>) so that fault batches, first in the mailbox, are served between
/// them; a chunk with nothing to copy waits for the read. The job is done once staging and the
/// file are empty. A prefetch is the same job over the working set only. Which window is read, and
/// into which buffer, is the context's; the driver only runs its reads.
/// </summary>
internal sealed class SwapInDriver(PageHandler handler, Userfaultfd uffd, JobContext context, IActorRef job, JobKind kind)
    : JobDriver<SwapInRead>(kind, handler, context, job)
{
    private readonly SwapInContext _context = kind == JobKind.Prefetch ? handler.StartPrefetch() : handler.StartSwapIn();
    private bool _waiting;
    private Exception? _readError;

    /// <summary>The next step of the chunk in progress, <paramref name="pages"/> pages into it.</summary>
    internal void Continue(long pages) => Guarded(pages, () => Steps(pages));

    /// <inheritdoc />
    internal override bool End()
    {
        // Over: its buffers must never serve a fault again, even while a read still fills one.
        _context.StopServing();
        if (InFlight.Count > 0)
        {
            return true;
        }

        _context.Dispose();
        return false;
    }

    /// <inheritdoc />
    internal override void Abandoned() => _context.Dispose();

    private protected override void Chunk() => Steps(0);

    private protected override void Completed(SwapInRead read, Exception? error)
    {
        if (error is null)
        {
            _context.Loaded(read);
            DispatchReads();
        }
        else
        {
            _readError = error;
        }

        if (_waiting)
        {
            _waiting = false;
            Steps(0);
        }
    }

    private ulong StepBytes() => SwapInSteps.Bytes(Options.SwapInStepBytes, Handler.FaultReads.InFlight > 0, Handler.SinceLastFault);

    private void DispatchReads()
    {
        while (_context.PlanRead(Options.SwapChunkBytes) is { } read)
        {
            Dispatch(read);
        }
    }

    private string Name => Kind == JobKind.Prefetch ? "prefetch" : "swap-in";

    private void Steps(long pages)
    {
        long copied;
        try
        {
            if (_readError is { } readError)
            {
                _readError = null;
                Reply(pages, false, SwapFailure.From(readError, $"{Name} read failed"));
                return;
            }

            copied = _context.CopyStep(uffd, StepBytes());
            DispatchReads();
        }
        catch (UffdRetryException)
        {
            // A remove event is pending: it is read before the job's next request.
            Reply(pages, false, null);
            return;
        }
        catch (Exception error)
        {
            Reply(pages, false, SwapFailure.From(error, $"{Name} failed"));
            return;
        }

        pages += copied;
        if (copied > 0 && PageSize.PagesToBytes(pages) < Options.SwapChunkBytes)
        {
            Self.Tell(new ContinueSwapIn(Job, pages), Self);
        }
        else if (pages > 0)
        {
            Reply(pages, false, null);
        }
        else if (_context.ReadPending)
        {
            _waiting = true;
        }
        else
        {
            Reply(0, true, null);
        }
    }
}
