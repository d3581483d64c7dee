using VmmSwap.Native;

namespace VmmSwap.Core;

/// <summary>
/// One unit of the move to staging: copy some runs of guest pages into staging, then free the
/// guest span they lie in at once (one syscall per huge page rather than per page). Batches are
/// independent and may run in parallel; a guest page must stay untouched until its batch is done.
/// </summary>
/// <remarks>
/// The span is freed by punching a hole in the guest memfd rather than MADV_REMOVE on the guest
/// mapping: in this process the mapping is registered with userfaultfd, and MADV_REMOVE there
/// would raise a remove event (blocking this thread until it is read) that the page handler would
/// take for a balloon freeing the pages it has just staged. The hole drops the page cache and
/// every mapping's page tables just the same, so the next guest touch is a missing fault.
/// </remarks>
public sealed class MoveToStagingBatch
{
    internal MoveToStagingBatch(CopyOp[] copies, SafeFd memFd, long punchOffset, long punchLength)
    {
        Copies = copies;
        MemFd = memFd;
        PunchOffset = punchOffset;
        PunchLength = punchLength;
    }

    /// <summary>The copies into staging.</summary>
    public IReadOnlyList<CopyOp> Copies { get; }

    /// <summary>The guest memfd whose span is freed after the copies.</summary>
    public SafeFd MemFd { get; }

    /// <summary>Offset of the freed span in <see cref="MemFd"/>.</summary>
    public long PunchOffset { get; }

    /// <summary>Length of the freed span (a whole number of huge pages where the data allows).</summary>
    public long PunchLength { get; }

    /// <summary>Copies the pages and frees the guest span.</summary>
    public void Execute()
    {
        foreach (var copy in Copies)
        {
            copy.Execute();
        }

        FileOps.PunchHole(MemFd, PunchOffset, PunchLength);
    }
}
