using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Storage;

/// <summary>
/// The working-set copies one swap-out write makes: the pages of <see cref="Pages"/>, in order,
/// into the swap file's copy area from slot <see cref="FirstSlot"/> on. Planned by
/// <see cref="WorkingSetCopies.Plan"/>, written with the write's own pages
/// (<see cref="SwapFile.WritePages"/>), recorded by <see cref="WorkingSetCopies.Complete"/>.
/// </summary>
public sealed class WorkingSetCopyPlan
{
    internal WorkingSetCopyPlan(long generation, long firstSlot, IReadOnlyList<PageRange> pages, long stagedPages, PageRange? staleArea)
    {
        Generation = generation;
        FirstSlot = firstSlot;
        Pages = pages;
        Count = pages.Sum(r => r.Count);
        StagedPages = stagedPages;
        StaleArea = staleArea;
    }

    /// <summary>The copy area's generation it was planned in; a write of another generation's is skipped.</summary>
    public long Generation { get; }

    /// <summary>Pages staged when it was planned (its write's included): the file system must keep room for them besides the copies.</summary>
    public long StagedPages { get; }

    /// <summary>The area the generation before filled, punched before these copies are written; null when nothing is to punch.</summary>
    public PageRange? StaleArea { get; }

    /// <summary>The swap-file slot the first copy goes to (in the copy area, past the guest's slots).</summary>
    public long FirstSlot { get; }

    /// <summary>The pages copied, in the order their copies follow each other.</summary>
    public IReadOnlyList<PageRange> Pages { get; }

    /// <summary>Pages copied.</summary>
    public long Count { get; }

    /// <summary>Set once the copies are written; until then, or when the write failed, no copy serves.</summary>
    public bool Written { get; internal set; }

    /// <summary>Why the copies were not written (they are optional: the write's own pages were); null when they were or have not run.</summary>
    public Exception? Failure { get; internal set; }
}
