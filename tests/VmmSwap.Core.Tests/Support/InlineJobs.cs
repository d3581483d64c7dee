using VmmSwap.Core.Work;

namespace VmmSwap.Core.Tests.Support;

/// <summary>
/// Swap-out and trim chunks run inline, on the test's thread: the same plan -> execute -> complete
/// the runtime's job drivers run with the execution on a page worker, and nothing else. The
/// runtime itself has no synchronous form of them.
/// </summary>
internal static class InlineJobs
{
    /// <summary>Writes the first run of staged pages (at most <paramref name="maxBytes"/>) and completes it; returns the pages written, 0 when staging is empty.</summary>
    internal static long SwapOutChunk(this PageHandler handler, ulong maxBytes)
    {
        if (handler.PlanSwapOut(maxBytes) is not { } write)
        {
            return 0;
        }

        write.Execute();
        var written = handler.CompleteSwapOut(write);
        handler.FlushDeferredFrees();
        return written;
    }

    /// <summary>Examines the next <paramref name="maxPages"/> pages and completes the window; returns the pages dropped, null once every region has been walked.</summary>
    internal static long? TrimChunk(this TrimContext trim, PageHandler handler, long maxPages)
    {
        if (trim.Plan(maxPages) is not { } window)
        {
            return null;
        }

        window.Execute();
        var trimmed = trim.Complete(window);
        handler.FlushDeferredFrees();
        return trimmed;
    }
}
