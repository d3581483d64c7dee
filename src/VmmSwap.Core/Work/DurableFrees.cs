using VmmSwap.Core.Pages;
using VmmSwap.Core.Staging;
using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// Staging runs already written to the swap file whose memory may go only once the file is known
/// durable: a write that fails at writeback (EIO, or ENOSPC on a thin or full disk) is reported
/// only by the next fdatasync, and by then a freed staging copy would be the only one. A swap-out
/// write or flush that carries them syncs the file first and frees them only when that succeeds;
/// when it fails, <see cref="PageHandler.RestoreNotDurable"/> stages the pages again.
/// </summary>
public sealed class DurableFrees
{
    private readonly StagingMemory _staging;
    private readonly SwapFile _file;
    private int _synced;

    internal DurableFrees(StagingMemory staging, SwapFile file, IReadOnlyList<PageRange> ranges)
    {
        _staging = staging;
        _file = file;
        Ranges = ranges;
    }

    /// <summary>The staging runs whose memory waits for the sync.</summary>
    public IReadOnlyList<PageRange> Ranges { get; }

    /// <summary>Whether the sync succeeded (the staging memory is then freed, or being freed).</summary>
    public bool Synced => Volatile.Read(ref _synced) != 0;

    /// <summary>Syncs the file, then frees the runs; throws, freeing nothing, when the sync fails. Any thread.</summary>
    internal void SyncThenFree(bool always)
    {
        if (Ranges.Count == 0 && !always)
        {
            return;
        }

        _file.Sync();
        Volatile.Write(ref _synced, 1);
        foreach (var range in Ranges)
        {
            _staging.FreeMemory(range);
        }
    }
}
