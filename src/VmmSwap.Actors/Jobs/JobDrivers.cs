using Akka.Actor;
using VmmSwap.Core;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// The PageHandler actor's job drivers: the running job's, and ended ones whose work still runs
/// (a swap-in's read ahead), kept until that work answers so what it uses is never freed under
/// it. A driver belongs to one job actor: a chunk asked by another job ends the old driver, so a
/// job that died without EndJob leaves nothing behind for the next one.
/// </summary>
internal sealed class JobDrivers(JobContext context)
{
    private readonly List<JobDriver> _ended = [];
    private JobDriver? _running;

    /// <summary>Ended drivers whose work still runs, for tests.</summary>
    internal int EndedCount => _ended.Count;

    /// <summary>Runs the next chunk of <paramref name="job"/>, starting its driver on its first chunk.</summary>
    internal void RunChunk(JobKind kind, IActorRef job, PageHandler? handler, Userfaultfd? uffd)
    {
        if (handler is null || uffd is null)
        {
            job.Tell(new ChunkDone(kind, 0, false, new SwapFailure(SwapFailureKind.Internal, $"{kind} chunk failed: no page state: vmm-swap is not enabled")));
            return;
        }

        if (_running is null || !_running.Job.Equals(job))
        {
            try
            {
                EndRunning();
                _running = kind switch
                {
                    JobKind.SwapOut => new SwapOutDriver(handler, context, job),
                    JobKind.Trim => new TrimDriver(handler, context, job),
                    _ => new SwapInDriver(handler, uffd, context, job, kind),
                };
            }
            catch (Exception error)
            {
                job.Tell(new ChunkDone(kind, 0, false, SwapFailure.From(error, $"{kind} chunk failed")));
                return;
            }
        }

        _running.RunChunk();
    }

    /// <summary>The next swap-in step of <paramref name="job"/>'s chunk; dropped if that job has ended.</summary>
    internal void ContinueSwapIn(IActorRef job, long pages)
    {
        if (_running is SwapInDriver swapIn && swapIn.Job.Equals(job))
        {
            swapIn.Continue(pages);
        }
    }

    /// <summary>Hands answered work to its driver: the running one completes it, an ended one lets go of what it used.</summary>
    internal void WorkDone(PageWork work, Exception? error)
    {
        if (_running is { } driver && driver.InFlight.Contains(work))
        {
            driver.WorkDone(work, error);
            return;
        }

        var ended = _ended.FindIndex(d => d.InFlight.Contains(work));
        if (ended >= 0 && _ended[ended].WorkAbandoned(work))
        {
            _ended.RemoveAt(ended);
        }
    }

    /// <summary>The running job is over (finished, aborted or dead).</summary>
    internal void EndRunning()
    {
        var running = _running;
        _running = null;
        if (running?.End() == true)
        {
            _ended.Add(running);
        }
    }

    /// <summary>
    /// Makes sure no ended job's work touches page state any more: work not started is cancelled,
    /// running work waited for up to <paramref name="timeout"/>. False if some still runs (its
    /// memory must then be left mapped); those that ended let go of what they used.
    /// </summary>
    internal bool CloseEnded(TimeSpan timeout)
    {
        var all = true;
        foreach (var ended in _ended)
        {
            // Every piece is cancelled or waited for, even after one that still runs.
            if (ended.InFlight.Count(work => work.CancelOrWait(timeout)) == ended.InFlight.Count)
            {
                ended.Abandoned();
            }
            else
            {
                all = false;
            }
        }

        _ended.Clear();
        return all;
    }
}
