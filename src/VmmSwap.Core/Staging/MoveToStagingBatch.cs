using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Staging;

/// <summary>
/// One unit of the move to staging: copy some runs of guest pages into staging, then free exactly
/// those runs in the guest (a hole punch per run of neighbours; contiguous data is one per huge
/// page). Not the whole span they lie in: a page between them that was a hole when the move was
/// planned may have been faulted in since (by a process reading while the move runs), and it
/// exists nowhere else. Batches are independent and may run in parallel; a guest page must not be
/// written until its batch is done.
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
    private readonly (long Offset, long Length)[] _punches;

    internal MoveToStagingBatch(CopyOp[] copies, SafeFd memFd, (long Offset, long Length)[] punches)
    {
        Copies = copies;
        MemFd = memFd;
        _punches = punches;
        PunchOffset = punches.Length > 0 ? punches[0].Offset : 0;
        PunchLength = punches.Length > 0 ? punches[^1].Offset + punches[^1].Length - PunchOffset : 0;
    }

    /// <summary>The copies into staging.</summary>
    public IReadOnlyList<CopyOp> Copies { get; }

    /// <summary>The guest memfd whose span is freed after the copies.</summary>
    public SafeFd MemFd { get; }

    /// <summary>Offset in <see cref="MemFd"/> of the first byte freed.</summary>
    public long PunchOffset { get; }

    /// <summary>Bytes from <see cref="PunchOffset"/> to the end of the last run freed (whole huge pages where the data allows).</summary>
    public long PunchLength { get; }

    /// <summary>Copies the pages and frees the guest span.</summary>
    public void Execute()
    {
        foreach (var copy in Copies)
        {
            copy.Execute();
        }

        foreach (var (offset, length) in _punches)
        {
            FileOps.PunchHole(MemFd, offset, length);
        }
    }
}
