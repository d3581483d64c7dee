using System.Runtime.InteropServices;

namespace VmmSwap.Native.Uffd;

/// <summary>The userfaultfd kernel ABI (linux/userfaultfd.h), x86_64 and arm64 share it.</summary>
internal static class UffdAbi
{
    internal const ulong Api = 0xAA;

    internal const ulong FeatureEventRemove = 1UL << 3;
    internal const ulong FeatureMissingShmem = 1UL << 5;

    // The kernel's internal UFFD_FEATURE_INITIALIZED, set once UFFDIO_API is done; fdinfo shows it.
    internal const ulong FeatureInitialized = 1UL << 31;

    internal const ulong RegisterModeMissing = 1UL << 0;
    internal const ulong CopyModeDontWake = 1UL << 0;
    internal const ulong ZeroPageModeDontWake = 1UL << 0;

    internal const byte EventPageFault = 0x12;
    internal const byte EventFork = 0x13;
    internal const byte EventRemap = 0x14;
    internal const byte EventRemove = 0x15;
    internal const byte EventUnmap = 0x16;

    // _IO / _IOR / _IOWR encodings of the ioctls below.
    internal const ulong IocNew = 0xAA00;
    internal const ulong IocApi = 0xC018AA3F;
    internal const ulong IocRegister = 0xC020AA00;
    internal const ulong IocUnregister = 0x8010AA01;
    internal const ulong IocWake = 0x8010AA02;
    internal const ulong IocCopy = 0xC028AA03;
    internal const ulong IocZeroPage = 0xC020AA04;

    internal const int MessageSize = 32;

    [StructLayout(LayoutKind.Sequential)]
    internal struct ApiArgs
    {
        internal ulong Api;
        internal ulong Features;
        internal ulong Ioctls;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Range
    {
        internal ulong Start;
        internal ulong Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct RegisterArgs
    {
        internal Range Range;
        internal ulong Mode;
        internal ulong Ioctls;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CopyArgs
    {
        internal ulong Dst;
        internal ulong Src;
        internal ulong Len;
        internal ulong Mode;
        internal long Copy;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct ZeroPageArgs
    {
        internal Range Range;
        internal ulong Mode;
        internal long ZeroPage;
    }

    /// <summary><c>struct uffd_msg</c>: an event byte, padding, then a 24-byte union.</summary>
    [StructLayout(LayoutKind.Explicit, Size = MessageSize)]
    internal struct Message
    {
        [FieldOffset(0)] internal byte Event;
        [FieldOffset(8)] internal ulong Arg0;
        [FieldOffset(16)] internal ulong Arg1;
        [FieldOffset(24)] internal ulong Arg2;
    }
}
