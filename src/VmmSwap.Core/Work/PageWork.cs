namespace VmmSwap.Core.Work;

/// <summary>
/// A piece of page work planned on the page handler's thread and executed on another one, so
/// faults are served while it runs: it touches only memory and files, never the page state, and
/// the handler completes it when it is done. It first gives back what earlier work of the same
/// job left to free (<see cref="DeferredFrees"/>). Whoever disposes the memory it reads must first
/// cancel it or wait for it with <see cref="CancelOrWait"/>.
/// </summary>
public abstract class PageWork
{
    private const int Planned = 0;
    private const int Running = 1;
    private const int Finished = 2;
    private const int Cancelled = 3;

    private readonly ManualResetEventSlim _done = new();
    private readonly DeferredFrees _frees;
    private int _state;

    private protected PageWork(DeferredFrees frees) => _frees = frees;

    /// <summary>Runs the deferred frees, then the work; call once. Does nothing once cancelled.</summary>
    public void Execute()
    {
        if (!TryStart())
        {
            return;
        }

        try
        {
            Run();
        }
        finally
        {
            Finish();
        }
    }

    /// <summary>
    /// Starts work that ends later, elsewhere (a read the kernel completes): runs the deferred
    /// frees and returns true, or false once cancelled. <see cref="Finish"/> ends it.
    /// </summary>
    private protected bool TryStart()
    {
        if (Interlocked.CompareExchange(ref _state, Running, Planned) != Planned)
        {
            return false;
        }

        try
        {
            _frees.Execute();
            return true;
        }
        catch
        {
            Finish();
            throw;
        }
    }

    /// <summary>The work started with <see cref="TryStart"/> no longer touches memory.</summary>
    private protected void Finish()
    {
        Volatile.Write(ref _state, Finished);
        _done.Set();
    }

    /// <summary>
    /// Makes sure the work will not touch memory any more: cancels it if it has not started
    /// (its frees are then left to whoever frees everything), else waits at most
    /// <paramref name="timeout"/> for it to end. False if it is still running.
    /// </summary>
    public bool CancelOrWait(TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref _state, Cancelled, Planned) == Planned)
        {
            _done.Set();
            return true;
        }

        return _done.Wait(timeout);
    }

    /// <summary>The work itself.</summary>
    protected abstract void Run();
}
