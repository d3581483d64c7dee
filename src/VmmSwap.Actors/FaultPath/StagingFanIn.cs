using System.Diagnostics;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// One Enable's move to staging, fanned out to the page workers as batches: how many are still
/// out, the pages planned, the first failure, the time taken. Owned by the PageHandler actor;
/// Enable is complete once every batch has answered, failed or not.
/// </summary>
internal sealed class StagingFanIn
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _outstanding;
    private long _pages;
    private SwapFailure? _failure;

    /// <summary>Whether every batch sent has answered.</summary>
    internal bool Complete => _outstanding == 0;

    /// <summary>A batch goes to a page worker.</summary>
    internal void Sent() => _outstanding++;

    /// <summary>Adds <paramref name="pages"/> planned pages to the count.</summary>
    internal void Planned(long pages) => _pages += pages;

    /// <summary>A batch answered, with its error if it failed.</summary>
    internal void Answered(Exception? error)
    {
        _outstanding--;
        if (error is not null)
        {
            Failed(SwapFailure.From(error, "move to staging failed"));
        }
    }

    /// <summary>Records <paramref name="failure"/> unless an earlier one is recorded: the first cause is the one reported.</summary>
    internal void Failed(SwapFailure failure) => _failure ??= failure;

    /// <summary>The answer to the supervisor; <paramref name="enabled"/> says whether page state exists.</summary>
    internal StagingCompleted Result(bool enabled) => new(_pages, _clock.Elapsed, _failure, enabled);
}
