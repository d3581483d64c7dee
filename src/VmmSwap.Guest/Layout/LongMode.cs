using System.Buffers.Binary;
using VmmSwap.Native.Kvm;

namespace VmmSwap.Guest.Layout;

/// <summary>
/// What a vCPU needs to run 64-bit code at CPL3, the only code PVM (KVM on a VM without nested
/// virtualization) runs natively: identity-mapping page tables of 2 MiB user pages and flat
/// segments of DPL 3. CPL0 code would run, but every instruction of it emulated.
/// </summary>
public static class LongMode
{
    // Page-table entry bits: present, writable, user, and (in a PD) a 2 MiB page.
    private const ulong Present = 1, Writable = 2, User = 4, LargePage = 0x80;
    private const int TableBytes = 4096;
    private const ulong Gib = 1UL << 30;

    /// <summary>
    /// The page tables identity-mapping guest-physical 0..<paramref name="end"/> (whole GiB, at
    /// most 512 GiB) with 2 MiB user pages, as one image to place at <paramref name="root"/>: the
    /// PML4 there, the PDPT after it, then one PD per GiB.
    /// </summary>
    public static byte[] PageTables(ulong root, ulong end)
    {
        if (end == 0 || end % Gib != 0 || end > 512 * Gib)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"0x{end:X} is not a whole number of GiB up to 512 GiB");
        }

        var gibs = (int)(end / Gib);
        var image = new byte[(2 + gibs) * TableBytes];
        var pdpt = root + TableBytes;
        Entry(image, 0, pdpt | Present | Writable | User);
        for (var g = 0; g < gibs; g++)
        {
            var pd = pdpt + (ulong)((1 + g) * TableBytes);
            Entry(image, TableBytes + (g * 8), pd | Present | Writable | User);
            for (var e = 0; e < 512; e++)
            {
                var address = ((ulong)g * Gib) + ((ulong)e * GuestPhysicalMap.LargePage);
                Entry(image, ((2 + g) * TableBytes) + (e * 8), address | Present | Writable | User | LargePage);
            }
        }

        return image;
    }

    /// <summary>Long mode with paging at <paramref name="pageTableRoot"/>, flat 64-bit code and data segments of DPL 3.</summary>
    public static void SetUser(ref KvmSregs sregs, ulong pageTableRoot)
    {
        const ulong Cr0PePgAndFriends = 0x8005_0033; // PG, AM, WP, NE, ET, MP, PE
        const ulong Cr4Pae = 0x20;
        const ulong EferLmeLma = 0x500;
        sregs.Cr3 = pageTableRoot;
        sregs.Cr0 = Cr0PePgAndFriends;
        sregs.Cr4 = Cr4Pae;
        sregs.Efer = EferLmeLma;
        sregs.Cs = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = 0x33, Type = 11, Present = 1, Dpl = 3, S = 1, L = 1, G = 1 };
        var data = new KvmSegment { Base = 0, Limit = 0xFFFF_FFFF, Selector = 0x2B, Type = 3, Present = 1, Dpl = 3, S = 1, Db = 1, G = 1 };
        sregs.Ss = data;
        sregs.Ds = data;
        sregs.Es = data;
        sregs.Fs = data;
        sregs.Gs = data;
    }

    private static void Entry(byte[] image, int at, ulong entry) => BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(at), entry);
}
