using System.Buffers.Binary;

namespace VmmSwap.Guest.Program;

/// <summary>
/// The checksum the guest program keeps per page: FNV-1a over the page's 512 little-endian
/// 64-bit words. Cheap in a few instructions per word, and any changed word changes it (the
/// multiply by an odd prime is a bijection). The host computes the same to seed and check it.
/// </summary>
public static class PageChecksum
{
    /// <summary>The FNV-1a 64-bit offset basis.</summary>
    public const ulong Basis = 0xCBF2_9CE4_8422_2325;

    /// <summary>The FNV-1a 64-bit prime.</summary>
    public const ulong Prime = 0x0000_0100_0000_01B3;

    /// <summary>The checksum of <paramref name="page"/> (a whole number of 64-bit words).</summary>
    public static ulong Of(ReadOnlySpan<byte> page)
    {
        var hash = Basis;
        for (var i = 0; i + sizeof(ulong) <= page.Length; i += sizeof(ulong))
        {
            hash = unchecked((hash ^ BinaryPrimitives.ReadUInt64LittleEndian(page[i..])) * Prime);
        }

        return hash;
    }
}
