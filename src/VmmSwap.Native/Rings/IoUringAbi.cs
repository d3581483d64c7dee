using System.Runtime.InteropServices;

namespace VmmSwap.Native.Rings;

/// <summary>
/// The io_uring ABI (include/uapi/linux/io_uring.h) that <see cref="IoUring"/> uses: the setup
/// parameters, the ring offsets, one submission and one completion entry. Layouts and numbers are
/// checked against the machine's headers by the tests.
/// </summary>
internal static class IoUringAbi
{
    // The same on x86_64 and arm64: both came after the syscall tables were unified (5.1).
    internal const long SysSetup = 425;
    internal const long SysEnter = 426;
    internal const long SysRegister = 427;

    internal const uint SetupClamp = 1U << 4;

    internal const uint FeatSingleMmap = 1U << 0;
    internal const uint FeatNoDrop = 1U << 1;
    internal const uint FeatExtArg = 1U << 8;

    internal const long OffSqRing = 0;
    internal const long OffSqes = 0x10000000;

    internal const uint EnterGetEvents = 1U << 0;
    internal const uint EnterExtArg = 1U << 3;

    internal const uint RegisterEventFd = 4;

    internal const byte OpRead = 22;

    internal const int ETIME = 62;

    [StructLayout(LayoutKind.Sequential)]
    internal struct SqRingOffsets
    {
        public uint Head;
        public uint Tail;
        public uint RingMask;
        public uint RingEntries;
        public uint Flags;
        public uint Dropped;
        public uint Array;
        public uint Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CqRingOffsets
    {
        public uint Head;
        public uint Tail;
        public uint RingMask;
        public uint RingEntries;
        public uint Overflow;
        public uint Cqes;
        public uint Flags;
        public uint Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct Params
    {
        public uint SqEntries;
        public uint CqEntries;
        public uint Flags;
        public uint SqThreadCpu;
        public uint SqThreadIdle;
        public uint Features;
        public uint WqFd;
        public fixed uint Resv[3];
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }

    [StructLayout(LayoutKind.Explicit, Size = 64)]
    internal struct Sqe
    {
        [FieldOffset(0)]
        public byte Opcode;

        [FieldOffset(1)]
        public byte Flags;

        [FieldOffset(2)]
        public ushort IoPrio;

        [FieldOffset(4)]
        public int Fd;

        [FieldOffset(8)]
        public ulong Off;

        [FieldOffset(16)]
        public ulong Addr;

        [FieldOffset(24)]
        public uint Len;

        [FieldOffset(28)]
        public uint RwFlags;

        [FieldOffset(32)]
        public ulong UserData;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Cqe
    {
        public ulong UserData;
        public int Res;
        public uint Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct GetEventsArg
    {
        public ulong SigMask;
        public uint SigMaskSize;
        public uint MinWaitUsec;
        public ulong Ts;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct KernelTimespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
