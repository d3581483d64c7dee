using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;

namespace VmmSwap.Core.Staging;

/// <summary>
/// Cuts a region's resident data into batches of at most one huge page each. A run of data that
/// may hold a huge page is split at huge page boundaries so that no batch frees part of one:
/// freeing part of a transparent huge page zeroes it instead of splitting it, and later touches
/// become minor faults that a missing-mode userfaultfd never sees.
/// </summary>
internal sealed class MoveToStagingPlanner(PageHandlerRegion region, StagingMemory staging)
{
    private readonly List<MoveToStagingBatch> _batches = [];
    private readonly List<CopyOp> _copies = [];

    // The memfd ranges of the batch's copies, neighbours merged.
    private readonly List<(long Offset, long Length)> _punches = [];
    private readonly ulong _huge = (ulong)PageSize.HugeBytes;
    private ulong _remaining;
    private ulong _batchHead;

    internal MoveToStagingPlan Plan()
    {
        var guest = region.Guest;
        var baseAddress = (ulong)guest.HostAddress;
        _remaining = _huge;
        _batchHead = 0;
        long moved = 0;

        foreach (var (dataStart, dataEnd) in FileOps.DataRanges(guest.MemFd, guest.MemFdOffset, guest.MemFdOffset + (long)guest.Size))
        {
            // Offsets within the region from here on.
            var offset = (ulong)(dataStart - guest.MemFdOffset);
            var end = (ulong)(dataEnd - guest.MemFdOffset);
            while (offset < end)
            {
                var size = NextPieceSize(baseAddress + offset, offset, end - offset);
                _copies.Add(staging.Copy(
                    guest.HostAddress + (nint)offset,
                    region.FilePageOffset + PageSize.BytesToPages(offset),
                    PageSize.BytesToPages(size)));
                AddPunch(guest.MemFdOffset + (long)offset, (long)size);
                moved += PageSize.BytesToPages(size);
                offset += size;
                _remaining -= size;
                if (_remaining == 0)
                {
                    Flush(offset);
                }
            }
        }

        Flush(guest.Size);
        return new MoveToStagingPlan(_batches, moved);
    }

    // How much of a run of data starting at chunkAddress goes into the current batch.
    private ulong NextPieceSize(ulong chunkAddress, ulong offset, ulong chunkSize)
    {
        if (chunkSize <= _remaining)
        {
            return chunkSize;
        }

        if (chunkSize < _huge)
        {
            return _remaining;
        }

        // The run may contain a huge page: cut where one could start.
        if (!PageSize.IsHugePageAligned(chunkAddress))
        {
            return Math.Min(PageSize.RoundUpHugePage(chunkAddress) - chunkAddress, _remaining);
        }

        if (_remaining < _huge)
        {
            // No room for a whole huge page: close this batch before it.
            Flush(offset);
        }

        return _huge;
    }

    private void AddPunch(long offset, long length)
    {
        if (_punches.Count > 0 && _punches[^1].Offset + _punches[^1].Length == offset)
        {
            _punches[^1] = (_punches[^1].Offset, _punches[^1].Length + length);
        }
        else
        {
            _punches.Add((offset, length));
        }
    }

    private void Flush(ulong batchEnd)
    {
        if (_copies.Count > 0)
        {
            var guest = region.Guest;
            _batches.Add(new MoveToStagingBatch([.. _copies], guest.MemFd, [.. _punches]));
        }

        _copies.Clear();
        _punches.Clear();
        _remaining = _huge;
        _batchHead = batchEnd;
    }
}
