using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Staging;

/// <summary>
/// Pages moved out of the guest, held in a memfd mapped once, with one present bit per page.
/// Indices are swap-file page indices: page i of staging and page i of the swap file are the
/// same guest page. Staging is never registered with userfaultfd, so managed reads of it are safe.
/// </summary>
public sealed unsafe class StagingMemory : IDisposable
{
    private readonly SafeFd _memFd;
    private readonly MemoryMapping _mapping;
    private readonly PresentList _present;

    // Pages dropped from the present set whose memory is not yet freed (see Release).
    private readonly List<long> _released = [];

    /// <summary>Creates staging for <paramref name="pages"/> pages (a sparse memfd; no RAM until written).</summary>
    public StagingMemory(long pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        _memFd = Native.Memory.MemFd.Create("vmm-swap staging", (long)PageSize.PagesToBytes(pages));
        try
        {
            _mapping = MemoryMapping.MapShared(_memFd, 0, PageSize.PagesToBytes(pages), writable: true);
        }
        catch
        {
            _memFd.Dispose();
            throw;
        }

        _present = new PresentList(pages);
    }

    /// <summary>Pages staging can hold.</summary>
    public long Length => _present.Length;

    /// <summary>Pages present in staging.</summary>
    public long PresentPages => _present.Count;

    /// <summary>The staging memfd, for measuring the RAM it holds.</summary>
    public SafeFd MemFd => _memFd;

    /// <summary>
    /// Marks <paramref name="pages"/> pages from <paramref name="index"/> present and returns the
    /// copy that fills them from guest address <paramref name="source"/>; the caller must execute
    /// it before the guest pages are freed.
    /// </summary>
    public CopyOp Copy(nint source, long index, long pages)
    {
        var range = new PageRange(index, index + pages);
        CheckRange(range);

        // A deferred free landing after this copy would wipe it.
        FlushReleased();
        _present.MarkRangeAsPresent(range);
        return new CopyOp(source, _memFd, (long)PageSize.PagesToBytes(index), PageSize.PagesToBytes(pages));
    }

    /// <summary>Whether page <paramref name="index"/> is in staging.</summary>
    public bool IsPresent(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        return _present.Get(index);
    }

    /// <summary>The bytes of page <paramref name="index"/>, or an empty span when it is not in staging.</summary>
    public ReadOnlySpan<byte> PageContent(long index) =>
        IsPresent(index) ? new ReadOnlySpan<byte>((void*)AddressOf(index), PageSize.Bytes) : default;

    /// <summary>The bytes of <paramref name="range"/> (present or not).</summary>
    public ReadOnlySpan<byte> GetSlice(PageRange range)
    {
        CheckRange(range);
        return new ReadOnlySpan<byte>((void*)AddressOf(range.Start), checked((int)PageSize.PagesToBytes(range.Count)));
    }

    /// <summary>The staging address of page <paramref name="index"/>, for UFFDIO_COPY and trim's comparisons.</summary>
    public nint AddressOf(long index) => _mapping.Address + (nint)PageSize.PagesToBytes(index);

    /// <summary>Drops the pages of <paramref name="range"/> and frees their memory.</summary>
    public void ClearRange(PageRange range)
    {
        Forget(range);
        FreeMemory(range);
    }

    /// <summary>
    /// Marks the pages of <paramref name="range"/> present again after <see cref="Forget"/>: their
    /// memory was never freed, so it still holds their bytes (a swap-out whose sync failed).
    /// </summary>
    internal void Restore(PageRange range)
    {
        CheckRange(range);
        _present.MarkRangeAsPresent(range);
    }

    /// <summary>Drops the pages of <paramref name="range"/> from the present set; their memory is freed later with <see cref="FreeMemory"/>.</summary>
    internal void Forget(PageRange range)
    {
        CheckRange(range);
        _present.ClearRange(range);
    }

    /// <summary>Frees the memory of <paramref name="range"/>, which must hold no present page; safe on any thread.</summary>
    internal void FreeMemory(PageRange range)
    {
        CheckRange(range);
        if (!range.IsEmpty)
        {
            Free(range);
        }
    }

    /// <summary>
    /// Drops page <paramref name="index"/> from the present set now and frees its memory at the
    /// next <see cref="FlushReleased"/>, so the fault path pays no madvise per page.
    /// </summary>
    public void Release(long index)
    {
        CheckRange(new PageRange(index, index + 1));
        if (_present.Get(index))
        {
            _present.ClearRange(new PageRange(index, index + 1));
            _released.Add(index);
        }
    }

    /// <summary>Pages released but not yet freed.</summary>
    public int ReleasedPages => _released.Count;

    /// <summary>Frees the memory of released pages, one MADV_REMOVE per run of neighbours.</summary>
    public void FlushReleased()
    {
        if (_released.Count == 0)
        {
            return;
        }

        foreach (var run in PageRuns.Coalesce(_released))
        {
            Free(run);
        }

        _released.Clear();
    }

    /// <summary>The first run of present pages, at most <paramref name="maxPages"/> long, at or after <paramref name="from"/> and before <paramref name="limit"/>.</summary>
    public PageRange? FirstDataRange(long maxPages, long from = 0, long limit = long.MaxValue)
    {
        var first = from == 0 ? _present.FirstDataRange(maxPages)?.Start ?? -1 : _present.NextSet(from, limit);
        if (first < 0 || first >= limit)
        {
            return null;
        }

        var end = _present.NextClear(first, PresentList.CappedEnd(first, maxPages, Math.Min(limit, Length)));
        return new PageRange(first, end);
    }

    /// <summary>Present pages within <paramref name="range"/>.</summary>
    public long PresentPagesIn(PageRange range) => _present.CountIn(range);

    /// <inheritdoc />
    public void Dispose()
    {
        _mapping.Dispose();
        _memFd.Dispose();
    }

    private void Free(PageRange range) =>
        _mapping.Advise(PageSize.PagesToBytes(range.Start), PageSize.PagesToBytes(range.Count), MemoryAdvice.Remove);

    private void CheckRange(PageRange range)
    {
        if (range.Start < 0 || range.End > Length || range.Start > range.End)
        {
            throw new ArgumentOutOfRangeException(nameof(range), $"staging pages {range} are outside [0, {Length})");
        }
    }
}
