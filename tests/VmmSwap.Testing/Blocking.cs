using System.Runtime.ExceptionServices;

namespace VmmSwap.Testing;

/// <summary>Runs work that may block in a page fault on its own OS thread, with a deadline.</summary>
public static class Blocking
{
    /// <summary>
    /// Runs <paramref name="work"/> on a new background thread; false if it has not finished within
    /// <paramref name="deadline"/> (the thread is left blocked, the test fails instead of hanging).
    /// An exception from the work is rethrown here.
    /// </summary>
    public static bool RunOnThread(Action work, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(work);
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true, Name = "test blocking work" };
        thread.Start();
        if (!thread.Join(deadline))
        {
            return false;
        }

        if (error is not null)
        {
            ExceptionDispatchInfo.Capture(error).Throw();
        }

        return true;
    }
}
