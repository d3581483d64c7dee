namespace VmmSwap.Core;

/// <summary>
/// A piece of page work planned on the page handler's thread and executed on another one, so
/// faults are served while it runs: it touches only memory and files, never the page state, and
/// the handler completes it when it is done. It first gives back what earlier work of the same
/// job left to free (<see cref="DeferredFrees"/>). Whoever disposes the memory it reads must first
/// wait for it with <see cref="WaitUntilDone"/>.
/// </summary>
public abstract class PageWork
{
    private readonly ManualResetEventSlim _done = new();
    private readonly DeferredFrees _frees;

    private protected PageWork(DeferredFrees frees) => _frees = frees;

    /// <summary>Runs the deferred frees, then the work; call once.</summary>
    public void Execute()
    {
        try
        {
            _frees.Execute();
            Run();
        }
        finally
        {
            _done.Set();
        }
    }

    /// <summary>Whether the work has run (or failed), waiting at most <paramref name="timeout"/>.</summary>
    public bool WaitUntilDone(TimeSpan timeout) => _done.Wait(timeout);

    /// <summary>The work itself.</summary>
    protected abstract void Run();
}
