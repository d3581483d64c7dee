using Akka.Actor;
using Akka.Event;

namespace VmmSwap.Actors;

/// <summary>
/// A routee of the page-work pool: runs work the PageHandler planned, off the fault pump thread,
/// so faults are served meanwhile: move-to-staging batches, job work (swap-out writes, trim
/// windows, the swap file's final flush, swap-in reads), the resident-page count of a status, and
/// closing page state nobody needs any more. Every piece of work but the last is answered, with its
/// error if it failed.
/// </summary>
internal sealed class PageWorker : ReceiveActor
{
    public PageWorker()
    {
        Receive<ExecuteBatch>(m => Sender.Tell(new BatchDone(Run(m.Batch.Execute))));
        Receive<ExecuteWork>(m => Sender.Tell(new WorkDone(m.Work, m.Job, Run(m.Work.Execute))));
        Receive<DisposePageState>(m => m.Handler.Dispose());
        Receive<CompleteStatus>(m =>
        {
            var metrics = m.Counters;
            try
            {
                metrics = metrics with { ResidentPages = m.Regions.Sum(r => r.ResidentPages()) };
            }
            catch (Exception e)
            {
                Context.GetLogger().Warning("resident pages unavailable: {0}", e.Message);
            }

            m.Request.ReplyTo.Tell(m.Request.ReplyWith(metrics));
        });
    }

    private static string? Run(Action work)
    {
        try
        {
            work();
            return null;
        }
        catch (Exception e)
        {
            return e.Message;
        }
    }
}
