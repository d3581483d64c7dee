using System.Runtime.InteropServices;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// What a soak page holds at each version: a function of the seed, the page and the version only,
/// so every thread, and the second process, knows what a page must read without sharing buffers.
/// </summary>
public static class PageContent
{
    // One version in this many is all zeros: pages the guest zeroes itself, which trim drops and
    // which come back as zero pages, a path random content alone would never take.
    private const int ZeroEvery = 8;

    /// <summary>The checksum of an all-zero page: what a page reads as after a balloon remove.</summary>
    public static ulong ZeroChecksum { get; } = GuestMemory.ChecksumOf(new byte[PageSize.Bytes]);

    /// <summary>Writes version <paramref name="version"/> of page <paramref name="page"/> into <paramref name="destination"/> (one page).</summary>
    public static void Fill(int seed, long page, int version, Span<byte> destination)
    {
        if (destination.Length != PageSize.Bytes)
        {
            throw new ArgumentException($"a page is {PageSize.Bytes} bytes, got {destination.Length}", nameof(destination));
        }

        if (version % ZeroEvery == ZeroEvery - 1)
        {
            destination.Clear();
            return;
        }

        // SplitMix64 from a state that mixes all three inputs; any change to one changes every word.
        var state = unchecked(((ulong)seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)page * 0xC2B2AE3D27D4EB4FUL) ^ ((ulong)version * 0x165667B19E3779F9UL));
        foreach (ref var word in MemoryMarshal.Cast<byte, ulong>(destination))
        {
            state = unchecked(state + 0x9E3779B97F4A7C15UL);
            var z = state;
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            word = z ^ (z >> 31);
        }
    }

    /// <summary>The checksum (as <see cref="GuestMemory.PageChecksum"/> computes it) of that version of that page.</summary>
    public static ulong Checksum(int seed, long page, int version)
    {
        Span<byte> buffer = stackalloc byte[PageSize.Bytes];
        Fill(seed, page, version, buffer);
        return GuestMemory.ChecksumOf(buffer);
    }
}
