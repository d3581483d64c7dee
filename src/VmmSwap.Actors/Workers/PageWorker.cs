using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Native.Processes;

namespace VmmSwap.Actors.Workers;

/// <summary>
/// A routee of the page-work pool: runs work the PageHandler planned, off the fault pump thread,
/// so faults are served meanwhile: move-to-staging batches, job work (swap-out writes, trim
/// windows, the swap file's final flush, swap-in reads), the resident-page count of a status, and
/// closing page state nobody needs any more. Every piece of work but the last is answered, with its
/// error if it failed.
/// </summary>
internal sealed class PageWorker : ReceiveActor
{
    // Per dispatcher thread (any of them may run any worker's next message): set only on a change.
    [ThreadStatic]
    private static int? _threadNice;

    private readonly int _nice;

    public PageWorker(int nice)
    {
        _nice = nice;
        Receive<ExecuteBatch>(m => Sender.Tell(new BatchDone(Run(m.Batch.Execute))));
        Receive<ExecuteWork>(m => Sender.Tell(new WorkDone(m.Work, Run(m.Work.Execute))));
        Receive<DisposePageState>(m => m.Handler.Dispose());
        Receive<CompleteStatus>(m =>
        {
            var metrics = m.Regions.Count == 0 ? SwapMetrics.Empty : m.Counters.Read();
            try
            {
                metrics = metrics with { ResidentPages = m.Regions.Sum(r => r.ResidentPages()) };
            }
            catch (Exception e)
            {
                Context.GetLogger().Warning("resident pages unavailable: {0}", e.Message);
            }

            // Without page state (disabled) there is nothing held to measure.
            var residentPages = metrics.ResidentPages;
            var hostMemory = m.Regions.Count == 0 ? null : HostMemoryUse.Measure(() => residentPages, m.Counters.Probe);
            m.Request.ReplyTo.Tell(m.Request.ReplyWith(metrics, hostMemory));
        });
    }

    public static Props Props(int nice) =>
        Akka.Actor.Props.Create(() => new PageWorker(nice)).WithDispatcher(VmmSwapConfig.PageWorkerDispatcher);

    // Background work must not take the CPU from a faulting vCPU or the fault thread: on a small
    // host, a page worker at the default weight stretched fault p99 during swap-in to milliseconds.
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (_threadNice != _nice)
        {
            try
            {
                ThreadNice.SetForCurrentThread(_nice);
            }
            catch (Exception e)
            {
                Context.GetLogger().Warning("page worker thread keeps its priority: {0}", e.Message);
            }

            _threadNice = _nice;
        }

        return base.AroundReceive(receive, message);
    }

    private static Exception? Run(Action work)
    {
        try
        {
            work();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
