using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// Compares guest pages with the <see cref="PageReference"/>, reading them through
/// <see cref="GuestMemory"/> only, and reports every mismatch as a <see cref="LostPage"/>.
/// </summary>
public sealed class PageChecker
{
    // How many earlier versions a wrong page is compared with to tell a stale copy from garbage.
    private const int VersionsLookedBack = 16;

    private readonly GuestMemory _guest;
    private readonly PageReference _reference;
    private readonly SoakCounters _counters;

    /// <summary>A checker of <paramref name="guest"/> against <paramref name="reference"/>, counting into <paramref name="counters"/>.</summary>
    public PageChecker(GuestMemory guest, PageReference reference, SoakCounters counters)
    {
        _guest = guest ?? throw new ArgumentNullException(nameof(guest));
        _reference = reference ?? throw new ArgumentNullException(nameof(reference));
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
    }

    /// <summary>Reads page <paramref name="page"/> and returns true when it holds what it must; a mismatch is counted as lost.</summary>
    public bool Check(long page, CheckedBy by)
    {
        var actual = _guest.PageChecksum(_guest.PageAddress(page));
        _counters.PageChecked(by);
        if (actual == _reference.Expected(page))
        {
            return true;
        }

        _counters.PageLost(Describe(_reference.Seed, page, by, _counters.Cycle, _reference.Version(page), _reference.IsRemoved(page), actual));
        return false;
    }

    /// <summary>Describes page <paramref name="page"/> read with checksum <paramref name="actual"/> instead of version <paramref name="expectedVersion"/>.</summary>
    public static LostPage Describe(int seed, long page, CheckedBy by, int cycle, int expectedVersion, bool expectedZeros, ulong actual)
    {
        if (actual == PageContent.ZeroChecksum)
        {
            return new LostPage(page, by, cycle, expectedVersion, expectedZeros, ObservedContent.Zeros, null);
        }

        // After a remove, the version written before it is stale too.
        var newest = expectedZeros ? expectedVersion : expectedVersion - 1;
        for (var v = newest; v >= Math.Max(0, newest - VersionsLookedBack); v--)
        {
            if (PageContent.Checksum(seed, page, v) == actual)
            {
                return new LostPage(page, by, cycle, expectedVersion, expectedZeros, ObservedContent.OlderVersion, v);
            }
        }

        return new LostPage(page, by, cycle, expectedVersion, expectedZeros, ObservedContent.Unrecognised, null);
    }
}
