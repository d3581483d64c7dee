using System.Runtime.InteropServices;

namespace VmmSwap.Native.Kvm;

/// <summary><c>struct kvm_segment</c>: a segment register's selector and its hidden descriptor cache.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    /// <summary>The segment base.</summary>
    public ulong Base;

    /// <summary>The segment limit, in bytes (already scaled when <see cref="G"/> is set).</summary>
    public uint Limit;

    /// <summary>The selector; its low two bits are the RPL.</summary>
    public ushort Selector;

    /// <summary>The descriptor type, e.g. 11 for execute/read accessed code, 3 for read/write accessed data.</summary>
    public byte Type;

    /// <summary>Present (1) or not (0).</summary>
    public byte Present;

    /// <summary>The descriptor privilege level, 0 to 3.</summary>
    public byte Dpl;

    /// <summary>Default operation size (1: 32-bit); 0 for 64-bit code.</summary>
    public byte Db;

    /// <summary>1 for code or data, 0 for a system segment.</summary>
    public byte S;

    /// <summary>1 for 64-bit code.</summary>
    public byte L;

    /// <summary>Granularity: 1 when the limit counts 4 KiB units.</summary>
    public byte G;

    /// <summary>Available for software.</summary>
    public byte Avl;

    /// <summary>1 when the segment is unusable (a null selector).</summary>
    public byte Unusable;

    /// <summary>Padding, kept for the kernel's layout.</summary>
    public byte Padding;
}
