namespace VmmSwap.Cli.Soak;

/// <summary>
/// Which pages each guest thread owns and which no one writes. Both follow from the page count and
/// the seed alone, so the second process finds the same read-only pages from its own mapping.
/// </summary>
public static class SoakLayout
{
    /// <summary>One page in this many is read-only: filled once, then only read (by the second process and the cycle checks).</summary>
    public const int ReadOnlyStride = 8;

    /// <summary>True when no guest thread writes page <paramref name="page"/>.</summary>
    public static bool IsReadOnly(long page) => page % ReadOnlyStride == ReadOnlyStride / 2;

    /// <summary>The read-only pages of a guest of <paramref name="pageCount"/> pages, in order.</summary>
    public static long[] ReadOnlyPages(long pageCount)
    {
        var pages = new List<long>();
        for (long p = 0; p < pageCount; p++)
        {
            if (IsReadOnly(p))
            {
                pages.Add(p);
            }
        }

        return [.. pages];
    }

    /// <summary>
    /// The other pages dealt to <paramref name="threads"/> owners after a seeded shuffle, so that
    /// neighbouring pages (one swap chunk, one fault batch) belong to different threads.
    /// </summary>
    public static long[][] Owned(long pageCount, int threads, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var writable = new List<long>();
        for (long p = 0; p < pageCount; p++)
        {
            if (!IsReadOnly(p))
            {
                writable.Add(p);
            }
        }

        var shuffled = writable.ToArray();
        new Random(seed).Shuffle(shuffled);
        var owned = new long[threads][];
        for (var t = 0; t < threads; t++)
        {
            owned[t] = [.. shuffled.Where((_, i) => i % threads == t)];
        }

        return owned;
    }
}
