namespace VmmSwap.Cli.Soak;

/// <summary>
/// What every guest page must hold: the version its owner wrote last (its bytes follow from the
/// seed, see <see cref="PageContent"/>), or zeros after a balloon remove. A page is changed only by
/// the one thread that owns it, and read-only pages never change, so no locking is needed.
/// </summary>
public sealed class PageReference
{
    private readonly int[] _versions;
    private readonly bool[] _removed;
    private readonly ulong[] _checksums;

    /// <summary>A reference in which every one of <paramref name="pages"/> pages holds version 0.</summary>
    public PageReference(int seed, long pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        Seed = seed;
        _versions = new int[pages];
        _removed = new bool[pages];
        _checksums = new ulong[pages];
        for (long p = 0; p < pages; p++)
        {
            _checksums[p] = PageContent.Checksum(seed, p, 0);
        }
    }

    /// <summary>The seed page contents follow from.</summary>
    public int Seed { get; }

    /// <summary>Pages in the guest.</summary>
    public long PageCount => _versions.LongLength;

    /// <summary>The version page <paramref name="page"/> was last written with.</summary>
    public int Version(long page) => _versions[page];

    /// <summary>True when page <paramref name="page"/> was removed after its last write, so it must read as zeros.</summary>
    public bool IsRemoved(long page) => _removed[page];

    /// <summary>The checksum page <paramref name="page"/> must read with.</summary>
    public ulong Expected(long page) => _checksums[page];

    /// <summary>Records that version <paramref name="version"/> of page <paramref name="page"/>, with <paramref name="checksum"/>, is now in the guest.</summary>
    public void Written(long page, int version, ulong checksum)
    {
        _versions[page] = version;
        _removed[page] = false;
        _checksums[page] = checksum;
    }

    /// <summary>Records that page <paramref name="page"/> was given back to the host: it reads as zeros now.</summary>
    public void Removed(long page)
    {
        _removed[page] = true;
        _checksums[page] = PageContent.ZeroChecksum;
    }
}
