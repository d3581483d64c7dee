using VmmSwap.Actors;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// The demo's vCPUs as the runtime pauses them for an Enable (<see cref="IGuestPause"/>): a run
/// under way is stopped (at a page boundary) and no run starts until the runtime resumes the
/// guest. In the interactive demo an Enable comes from another terminal at any moment, also
/// while the guest runs; a guest write during the move to staging would be lost.
/// </summary>
internal sealed class DemoGuestPause : IGuestPause
{
    private readonly Lock _gate = new();
    private CancellationTokenSource? _run;
    private TaskCompletionSource _runEnded = Completed();
    private TaskCompletionSource _resumed = Completed();

    /// <inheritdoc />
    public Task PauseAsync(CancellationToken cancellationToken)
    {
        Task ended;
        lock (_gate)
        {
            _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _run?.Cancel();
            ended = _runEnded.Task;
        }

        return ended.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public void Resume()
    {
        lock (_gate)
        {
            _resumed.TrySetResult();
        }
    }

    /// <summary>
    /// Waits while the guest is paused, then returns a token that a pause cancels, for a run to
    /// end at; dispose it when the run has ended.
    /// </summary>
    internal async Task<Run> BeginRunAsync(CancellationToken interrupt)
    {
        while (true)
        {
            Task resumed;
            lock (_gate)
            {
                if (_resumed.Task.IsCompleted)
                {
                    _run = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
                    _runEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    return new Run(this, _run);
                }

                resumed = _resumed.Task;
            }

            await resumed.WaitAsync(interrupt).ConfigureAwait(false);
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    private void End(CancellationTokenSource run)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_run, run))
            {
                _run = null;
            }

            _runEnded.TrySetResult();
        }

        run.Dispose();
    }

    /// <summary>One guest run: its token ends it early when the runtime pauses the guest.</summary>
    internal sealed class Run(DemoGuestPause owner, CancellationTokenSource source) : IDisposable
    {
        /// <summary>Cancelled by a pause (or by the interrupt the run began with).</summary>
        internal CancellationToken Token => source.Token;

        /// <inheritdoc />
        public void Dispose() => owner.End(source);
    }
}
