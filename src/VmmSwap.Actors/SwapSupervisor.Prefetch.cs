using Akka.Event;
using VmmSwap.Actors.Jobs;

namespace VmmSwap.Actors;

/// <summary>
/// Prefetch (<see cref="SwapCommand.Prefetch"/>): a swap-in of the working set only, in Pending
/// or Active, which the state stays (docs/ARCHITECTURE.md, "The state machine").
/// </summary>
public sealed partial class SwapSupervisor
{
    // Only the working set is recorded with working-set-first on: without it there is nothing to fetch.
    private void StartPrefetch(SwapCommand.Prefetch m)
    {
        if (!_options.WorkingSetFirst)
        {
            Reply(m, CommandOutcome.Failed, "Prefetch needs vmm-swap.working-set-first = on: no working set is recorded");
            return;
        }

        var job = SpawnJob(JobKind.Prefetch);
        Become(() => PrefetchRunning(job));
        Reply(m, CommandOutcome.Accepted, null);
    }

    // Prefetch running in Pending or Active, which the state stays: a command that changes
    // anything stops it first; its progress is not a state transition.
    private void PrefetchRunning(RunningJob job)
    {
        void AbortInPending(SwapCommand m)
        {
            if (_state == SwapState.Pending)
            {
                AbortThenReplay(job);
            }
            else
            {
                Ignore(m);
            }
        }

        Receive<SwapCommand.Enable>(_ => AbortThenReplay(job));
        Receive<SwapCommand.Trim>(AbortInPending);
        Receive<SwapCommand.SwapOut>(AbortInPending);
        Receive<SwapCommand.Disable>(_ => AbortThenReplay(job));
        Receive<SwapCommand.Prefetch>(m => Reply(m, CommandOutcome.Accepted, "prefetch is already in progress"));
        Receive<SwapCommand.Exit>(_ => AbortThenReplay(job));
        Receive<JobCompleted>(m => Sender.Equals(job.Actor), m =>
        {
            Context.Unwatch(job.Actor);
            if (m.Error is not null)
            {
                Fail(m.Error, stopping: null, exits: []);
                return;
            }

            _log.Info("prefetch finished: {0} pages in {1} ms", m.Pages, (long)m.Elapsed.TotalMilliseconds);
            Become(_state == SwapState.Pending ? Pending : Active);
        });
        Receive<JobProgress>(_ => { });
        JobWatched(job);
        Enabled(job, exits: []);
    }
}
