namespace VmmSwap.Core.Pages;

/// <summary>Page indices gathered one at a time on the fault path, handed back as runs of neighbours so each run costs one syscall.</summary>
internal static class PageRuns
{
    /// <summary>Sorts <paramref name="indices"/> and returns its runs of neighbours (duplicates merge), in order.</summary>
    internal static List<PageRange> Coalesce(List<long> indices)
    {
        var runs = new List<PageRange>();
        if (indices.Count == 0)
        {
            return runs;
        }

        indices.Sort();
        var start = indices[0];
        var end = start + 1;
        foreach (var index in indices.Skip(1))
        {
            if (index > end)
            {
                runs.Add(new PageRange(start, end));
                start = index;
            }

            end = Math.Max(end, index + 1);
        }

        runs.Add(new PageRange(start, end));
        return runs;
    }
}
