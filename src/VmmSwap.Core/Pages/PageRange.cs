namespace VmmSwap.Core.Pages;

/// <summary>A half-open range of page indices [<see cref="Start"/>, <see cref="End"/>).</summary>
/// <param name="Start">The first page.</param>
/// <param name="End">One past the last page.</param>
public readonly record struct PageRange(long Start, long End)
{
    /// <summary>Pages in the range.</summary>
    public long Count => End - Start;

    /// <summary>True when the range holds no page.</summary>
    public bool IsEmpty => End <= Start;

    /// <summary>Whether page <paramref name="index"/> lies in the range.</summary>
    public bool Contains(long index) => Start <= index && index < End;

    /// <summary>The range shifted by <paramref name="pages"/>.</summary>
    public PageRange Offset(long pages) => new(Start + pages, End + pages);

    /// <summary>The overlap of this range and <paramref name="other"/> (empty when disjoint).</summary>
    public PageRange Intersect(PageRange other)
    {
        var start = Math.Max(Start, other.Start);
        return new PageRange(start, Math.Max(start, Math.Min(End, other.End)));
    }

    /// <inheritdoc />
    public override string ToString() => $"[{Start}, {End})";
}
