using System.Runtime.InteropServices;

namespace VmmSwap.Native.Sockets;

/// <summary>
/// The x86_64/arm64 (LP64) layouts of <c>struct msghdr</c>, <c>struct iovec</c> and
/// <c>struct cmsghdr</c>, the CMSG_* arithmetic and the flags sendmsg(2)/recvmsg(2) take; each
/// checked against the kernel headers by a C probe in the tests.
/// </summary>
internal static class SocketAbi
{
    internal const int SolSocket = 1;
    internal const int ScmRights = 1;
    internal const int MsgCtrunc = 0x8;
    internal const int MsgDontwait = 0x40;
    internal const int MsgNosignal = 0x4000;
    internal const int MsgCmsgCloexec = 0x40000000;

    /// <summary>sizeof(struct cmsghdr), which CMSG_ALIGN leaves as it is on LP64.</summary>
    internal static int CmsgHeaderSize => Marshal.SizeOf<CmsgHdr>();

    /// <summary>CMSG_ALIGN: control data is aligned to sizeof(size_t).</summary>
    internal static int CmsgAlign(int length) => (length + nint.Size - 1) & ~(nint.Size - 1);

    /// <summary>CMSG_LEN(<paramref name="dataLength"/>): a header and its data, unpadded.</summary>
    internal static int CmsgLen(int dataLength) => CmsgAlign(CmsgHeaderSize) + dataLength;

    /// <summary>CMSG_SPACE(<paramref name="dataLength"/>): a header and its data, padded.</summary>
    internal static int CmsgSpace(int dataLength) => CmsgAlign(CmsgHeaderSize) + CmsgAlign(dataLength);

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        internal nint Base;
        internal nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        internal nint Name;
        internal uint NameLength;
        internal nint Iov;
        internal nuint IovLength;
        internal nint Control;
        internal nuint ControlLength;
        internal int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CmsgHdr
    {
        internal nuint Length;
        internal int Level;
        internal int Type;
    }
}
