using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Sockets;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Sockets;

/// <summary>The sendmsg/recvmsg structs, CMSG arithmetic, flags, signal numbers and the pidfd_send_signal number against the headers, through a C probe built with cc.</summary>
public sealed class SocketAbiTests
{
    private const string Probe = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <signal.h>
        #include <sys/socket.h>
        #include <sys/syscall.h>
        #include <sys/uio.h>
        #define V(name, value) printf("%s %llu\n", name, (unsigned long long)(value))
        #define OFF(type, field) V(#type "." #field, offsetof(struct type, field))
        int main(void)
        {
            V("sizeof.msghdr", sizeof(struct msghdr));
            OFF(msghdr, msg_name); OFF(msghdr, msg_namelen); OFF(msghdr, msg_iov); OFF(msghdr, msg_iovlen);
            OFF(msghdr, msg_control); OFF(msghdr, msg_controllen); OFF(msghdr, msg_flags);
            V("sizeof.iovec", sizeof(struct iovec));
            OFF(iovec, iov_base); OFF(iovec, iov_len);
            V("sizeof.cmsghdr", sizeof(struct cmsghdr));
            OFF(cmsghdr, cmsg_len); OFF(cmsghdr, cmsg_level); OFF(cmsghdr, cmsg_type);
            V("CMSG_LEN.4", CMSG_LEN(4));
            V("CMSG_SPACE.4", CMSG_SPACE(4));
            V("CMSG_SPACE.12", CMSG_SPACE(12));
            V("CMSG_SPACE.32", CMSG_SPACE(32));
            V("SOL_SOCKET", SOL_SOCKET);
            V("SCM_RIGHTS", SCM_RIGHTS);
            V("MSG_CTRUNC", MSG_CTRUNC);
            V("MSG_DONTWAIT", MSG_DONTWAIT);
            V("MSG_NOSIGNAL", MSG_NOSIGNAL);
            V("MSG_CMSG_CLOEXEC", MSG_CMSG_CLOEXEC);
            V("SIGKILL", SIGKILL);
            V("SIGSTOP", SIGSTOP);
            V("SIGCONT", SIGCONT);
            V("SYS_pidfd_send_signal", SYS_pidfd_send_signal);
            return 0;
        }
        """;

    private static readonly Lazy<IReadOnlyDictionary<string, ulong>> Headers = new(() => CProgram.RunForValues(Probe));

    public static TheoryData<string, ulong> Values() => new()
    {
        { "sizeof.msghdr", (ulong)Marshal.SizeOf<SocketAbi.MsgHdr>() },
        { "msghdr.msg_name", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.Name)) },
        { "msghdr.msg_namelen", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.NameLength)) },
        { "msghdr.msg_iov", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.Iov)) },
        { "msghdr.msg_iovlen", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.IovLength)) },
        { "msghdr.msg_control", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.Control)) },
        { "msghdr.msg_controllen", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.ControlLength)) },
        { "msghdr.msg_flags", Offset<SocketAbi.MsgHdr>(nameof(SocketAbi.MsgHdr.Flags)) },
        { "sizeof.iovec", (ulong)Marshal.SizeOf<SocketAbi.IoVec>() },
        { "iovec.iov_base", Offset<SocketAbi.IoVec>(nameof(SocketAbi.IoVec.Base)) },
        { "iovec.iov_len", Offset<SocketAbi.IoVec>(nameof(SocketAbi.IoVec.Length)) },
        { "sizeof.cmsghdr", (ulong)SocketAbi.CmsgHeaderSize },
        { "cmsghdr.cmsg_len", Offset<SocketAbi.CmsgHdr>(nameof(SocketAbi.CmsgHdr.Length)) },
        { "cmsghdr.cmsg_level", Offset<SocketAbi.CmsgHdr>(nameof(SocketAbi.CmsgHdr.Level)) },
        { "cmsghdr.cmsg_type", Offset<SocketAbi.CmsgHdr>(nameof(SocketAbi.CmsgHdr.Type)) },
        { "CMSG_LEN.4", (ulong)SocketAbi.CmsgLen(4) },
        { "CMSG_SPACE.4", (ulong)SocketAbi.CmsgSpace(4) },
        { "CMSG_SPACE.12", (ulong)SocketAbi.CmsgSpace(12) },
        { "CMSG_SPACE.32", (ulong)SocketAbi.CmsgSpace(32) },
        { "SOL_SOCKET", SocketAbi.SolSocket },
        { "SCM_RIGHTS", SocketAbi.ScmRights },
        { "MSG_CTRUNC", SocketAbi.MsgCtrunc },
        { "MSG_DONTWAIT", SocketAbi.MsgDontwait },
        { "MSG_NOSIGNAL", SocketAbi.MsgNosignal },
        { "MSG_CMSG_CLOEXEC", SocketAbi.MsgCmsgCloexec },
        { "SIGKILL", (ulong)ProcessSignal.Kill },
        { "SIGSTOP", (ulong)ProcessSignal.Stop },
        { "SIGCONT", (ulong)ProcessSignal.Continue },
        { "SYS_pidfd_send_signal", (ulong)Libc.SYS_pidfd_send_signal },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void Matches_the_headers(string name, ulong ours) => Assert.Equal(Headers.Value[name], ours);

    private static ulong Offset<T>(string field) => (ulong)Marshal.OffsetOf<T>(field);
}
