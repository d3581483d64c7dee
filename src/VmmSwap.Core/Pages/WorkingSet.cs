namespace VmmSwap.Core.Pages;

/// <summary>
/// The pages the guest touched lately, by swap-file index: every fault since the current cycle's
/// Enable (swap-in included), and those of the cycle before it. A swap-in brings these in first
/// (REAP's idea: the pages a guest faulted after its last restore are the ones it needs first
/// after the next), then the rest. It outlives the page state of each cycle; one owner serialises
/// every call, as for the page state.
/// </summary>
public sealed class WorkingSet
{
    private PresentList _recorded;
    private PresentList _last;

    /// <summary>A working set over <paramref name="pages"/> swap-file slots (every guest page).</summary>
    public WorkingSet(long pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        _recorded = new PresentList(pages);
        _last = new PresentList(pages);
    }

    /// <summary>Slots covered.</summary>
    public long Length => _recorded.Length;

    /// <summary>Pages faulted since the current cycle's Enable.</summary>
    public long RecordedPages => _recorded.Count;

    /// <summary>Pages in the set: faulted in this cycle or the one before.</summary>
    public long Pages
    {
        get
        {
            long pages = 0;
            for (var from = 0L; Next(from, Length) is { } run; from = run.End)
            {
                pages += run.Count;
            }

            return pages;
        }
    }

    /// <summary>A new cycle starts (Enable from disabled): what the last one faulted becomes the record before it.</summary>
    public void StartCycle()
    {
        if (_recorded.Count == 0)
        {
            return;
        }

        (_last, _recorded) = (_recorded, _last);
        _recorded.ClearRange(new PageRange(0, _recorded.Length));
    }

    /// <summary>The guest faulted on slot <paramref name="index"/>.</summary>
    public void Record(long index) => _recorded.MarkAsPresent(index);

    /// <summary>Whether slot <paramref name="index"/> is in the set.</summary>
    public bool Contains(long index) => _recorded.Get(index) || _last.Get(index);

    /// <summary>The first run of the set in [<paramref name="from"/>, <paramref name="limit"/>); null when none.</summary>
    public PageRange? Next(long from, long limit)
    {
        limit = Math.Min(limit, Length);
        var a = _recorded.NextSet(from, limit);
        var b = _last.NextSet(from, limit);
        var start = a < 0 ? b : b < 0 ? a : Math.Min(a, b);
        if (start < 0)
        {
            return null;
        }

        // The union's run ends where neither list is set.
        var end = start;
        while (end < limit)
        {
            if (_recorded.Get(end))
            {
                end = _recorded.NextClear(end, limit);
            }
            else if (_last.Get(end))
            {
                end = _last.NextClear(end, limit);
            }
            else
            {
                break;
            }
        }

        return new PageRange(start, end);
    }

    /// <summary>
    /// The first run of pages in both this set and what <paramref name="present"/> finds (given a
    /// start, the first present run at or after it before <paramref name="limit"/>, or null), at
    /// or after <paramref name="from"/>, at most <paramref name="maxPages"/> long; null when none.
    /// </summary>
    internal PageRange? FirstIn(Func<long, PageRange?> present, long from, long limit, long maxPages)
    {
        while (from < limit && present(from) is { } run)
        {
            if (Next(run.Start, run.End) is { } both)
            {
                return new PageRange(both.Start, PresentList.CappedEnd(both.Start, maxPages, both.End));
            }

            from = run.End;
        }

        return null;
    }
}
