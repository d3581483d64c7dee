using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;

namespace VmmSwap.Core.Storage;

/// <summary>
/// Swap-out's writes into the swap file: staged runs from staging's memfd with sendfile, then the
/// working-set copies they carry, one write at a time. sendfile writes at the file position, so
/// the writes go through a descriptor of their own that nothing else positions. The copy area's
/// generation changes under the same lock, so a write planned before the area started over (one
/// a dead job left running) never writes copies into the new one. Callers check the ranges.
/// </summary>
/// <remarks>
/// sendfile, not pwrite from staging's mapping: staging is filled with pwrite into its memfd
/// (Enable), so its mapping holds no page table entry, and a pwrite from it took a page fault
/// per page, which on a nested machine cost more than the write. sendfile copies the memfd's
/// pages inside the kernel: in tools/staging-write, 512 MiB went 0.27-1.27 GiB/s from the
/// mapping and 1.29-1.61 GiB/s with sendfile, the fastest of the four ways in each round.
/// </remarks>
internal sealed class SwapFileWriter : IDisposable
{
    private readonly SafeFd _file;
    private readonly SafeFd _writer;
    private readonly Lock _writing = new();
    private long _generation;

    internal SwapFileWriter(SafeFd file)
    {
        _file = file;
        _writer = FileOps.ReopenForWriting(file);
    }

    /// <summary>
    /// Writes <paramref name="runs"/> from <paramref name="staging"/> (indexed by swap-file page)
    /// to their slots, then <paramref name="copies"/> if they are of the current generation, and
    /// starts the writeback of both.
    /// </summary>
    internal void Write(IReadOnlyList<PageRange> runs, SafeFd staging, WorkingSetCopyPlan? copies)
    {
        if (runs.Count == 0)
        {
            return;
        }

        lock (_writing)
        {
            foreach (var run in runs)
            {
                var offset = (long)PageSize.PagesToBytes(run.Start);
                FileOps.SendAll(_writer, offset, staging, offset, PageSize.PagesToBytes(run.Count));
            }

            if (copies is not null && copies.Generation == _generation)
            {
                WriteCopies(copies, staging);
            }
        }

        // One call over the span: its gaps hold no dirty page.
        var start = runs.Min(r => r.Start);
        var end = runs.Max(r => r.End);
        FileOps.StartWriteback(_file, (long)PageSize.PagesToBytes(start), (long)PageSize.PagesToBytes(end - start));
        if (copies is { Written: true })
        {
            FileOps.StartWriteback(_file, (long)PageSize.PagesToBytes(copies.FirstSlot), (long)PageSize.PagesToBytes(copies.Count));
        }
    }

    /// <summary>Starts a new generation of the copy area; returns it.</summary>
    internal long StartGeneration()
    {
        lock (_writing)
        {
            return ++_generation;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();

    // Under the write lock, in the plan's own generation. The area of the generation before is
    // punched first (the disk it held goes back); the copies are written only if the file system
    // keeps room for every page still staged besides them, so they never take the blocks a
    // page's own slot will need.
    private void WriteCopies(WorkingSetCopyPlan copies, SafeFd staging)
    {
        try
        {
            if (copies.StaleArea is { IsEmpty: false } stale)
            {
                FileOps.PunchHole(_file, (long)PageSize.PagesToBytes(stale.Start), (long)PageSize.PagesToBytes(stale.Count));
            }

            var needed = PageSize.PagesToBytes(copies.StagedPages + copies.Count);
            var available = FileOps.AvailableBytes(_file);
            if (available < needed)
            {
                copies.Failure = new NoRoomForCopiesException(available, needed);
                return;
            }

            var slot = copies.FirstSlot;
            foreach (var pages in copies.Pages)
            {
                FileOps.SendAll(_writer, (long)PageSize.PagesToBytes(slot), staging, (long)PageSize.PagesToBytes(pages.Start), PageSize.PagesToBytes(pages.Count));
                slot += pages.Count;
            }

            copies.Written = true;
        }
        catch (Exception e) when (e is NativeCallException or IOException)
        {
            // The pages are in their own slots: copies that cannot be written (a full disk, a
            // file system without room past the guest's slots) only leave them to be read there.
            copies.Failure = e;
        }
    }
}
