using System.Numerics;

namespace VmmSwap.Core.Pages;

/// <summary>
/// One bit per page, with a count of set bits and a low-water cursor below which no bit is set,
/// so <see cref="FirstDataRange"/> is cheap on sparse lists: it skips whole zero words from there.
/// 1 GiB of 4 KiB pages costs 32 KiB.
/// </summary>
public sealed class PresentList
{
    private readonly ulong[] _words;

    // Every bit below _cursor is clear.
    private long _cursor;

    /// <summary>Creates a list of <paramref name="length"/> pages, all absent.</summary>
    public PresentList(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _words = new ulong[(length + 63) / 64];
        _cursor = length;
    }

    /// <summary>Pages tracked.</summary>
    public long Length { get; }

    /// <summary>Pages marked present.</summary>
    public long Count { get; private set; }

    /// <summary>True when every page is present.</summary>
    public bool AllPresent => Count == Length;

    /// <summary>Whether page <paramref name="index"/> is present; false outside the list.</summary>
    public bool Get(long index) => index >= 0 && index < Length && (_words[index >> 6] & (1UL << (int)(index & 63))) != 0;

    /// <summary>Marks page <paramref name="index"/> present; false (and no change) outside the list.</summary>
    public bool MarkAsPresent(long index) => MarkRangeAsPresent(new PageRange(index, index + 1));

    /// <summary>Marks every page of <paramref name="range"/> present; false (and no change) if it leaves the list.</summary>
    public bool MarkRangeAsPresent(PageRange range)
    {
        if (!InBounds(range))
        {
            return false;
        }

        Count += Update(range, set: true);
        _cursor = Math.Min(_cursor, range.Start);
        return true;
    }

    /// <summary>Marks every page of <paramref name="range"/> absent; false (and no change) if it leaves the list.</summary>
    public bool ClearRange(PageRange range)
    {
        if (!InBounds(range))
        {
            return false;
        }

        Count -= Update(range, set: false);
        if (Count == 0)
        {
            _cursor = Length;
        }
        else if (range.Start <= _cursor && range.End > _cursor)
        {
            _cursor = range.End;
        }

        return true;
    }

    /// <summary>
    /// The first run of present pages, at most <paramref name="maxPages"/> long; null when no page
    /// is present.
    /// </summary>
    public PageRange? FirstDataRange(long maxPages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPages);
        var start = NextSet(_cursor);
        if (start < 0)
        {
            _cursor = Length;
            return null;
        }

        _cursor = start;
        var limit = CappedEnd(start, maxPages, Length);
        var end = NextClear(start, limit);
        return new PageRange(start, end);
    }

    /// <summary>The first present page at or after <paramref name="from"/>, or -1.</summary>
    public long NextSet(long from) => NextSet(from, Length);

    /// <summary>
    /// The first present page in [<paramref name="from"/>, <paramref name="limit"/>), or -1. The
    /// scan stops at the limit: callers walking a window must not pay for the rest of the list.
    /// </summary>
    public long NextSet(long from, long limit)
    {
        limit = Math.Min(limit, Length);
        if (from >= limit)
        {
            return -1;
        }

        var w = from >> 6;
        var lastWord = (limit - 1) >> 6;
        var word = _words[w] & (ulong.MaxValue << (int)(from & 63));
        while (true)
        {
            if (word != 0)
            {
                var index = (w << 6) + BitOperations.TrailingZeroCount(word);
                return index < limit ? index : -1;
            }

            if (++w > lastWord)
            {
                return -1;
            }

            word = _words[w];
        }
    }

    /// <summary>The first absent page in [<paramref name="from"/>, <paramref name="limit"/>), or <paramref name="limit"/> (at most <see cref="Length"/>).</summary>
    public long NextClear(long from, long limit)
    {
        limit = Math.Min(limit, Length);
        var index = from;
        while (index < limit)
        {
            var w = index >> 6;
            var word = ~_words[w] & (ulong.MaxValue << (int)(index & 63));
            if (word != 0)
            {
                return Math.Min(limit, (w << 6) + BitOperations.TrailingZeroCount(word));
            }

            index = (w + 1) << 6;
        }

        return limit;
    }

    /// <summary>Present pages inside <paramref name="range"/>.</summary>
    public long CountIn(PageRange range)
    {
        long count = 0;
        for (var i = NextSet(range.Start, range.End); i >= 0;)
        {
            var end = NextClear(i, range.End);
            count += end - i;
            i = NextSet(end, range.End);
        }

        return count;
    }

    /// <summary><paramref name="start"/> + <paramref name="count"/>, capped at <paramref name="limit"/> without overflowing.</summary>
    internal static long CappedEnd(long start, long count, long limit) => count >= limit - start ? limit : start + count;

    private bool InBounds(PageRange range) => range.Start >= 0 && range.End <= Length && range.Start <= range.End;

    // Sets or clears the bits of a range and returns how many actually changed.
    private long Update(PageRange range, bool set)
    {
        long changed = 0;
        var index = range.Start;
        while (index < range.End)
        {
            var w = index >> 6;
            var bit = (int)(index & 63);
            var bits = (int)Math.Min(64 - bit, range.End - index);
            var mask = bits == 64 ? ulong.MaxValue : ((1UL << bits) - 1) << bit;
            var before = _words[w];
            var after = set ? before | mask : before & ~mask;
            changed += BitOperations.PopCount(before ^ after);
            _words[w] = after;
            index += bits;
        }

        return changed;
    }
}
