using System.Net.Sockets;
using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Sockets;

/// <summary>
/// Who is on the other end of a connected Unix domain socket, as the kernel recorded it at
/// connect(2) (SO_PEERCRED, socket(7)): the peer cannot forge it, unlike anything it sends.
/// </summary>
/// <param name="Pid">The peer's process id at connect time.</param>
/// <param name="Uid">The peer's effective user id.</param>
/// <param name="Gid">The peer's effective group id.</param>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    /// <summary>The effective user id of this process (geteuid(2)), to compare a peer's with.</summary>
    public static uint EffectiveUid => Libc.GetEuid();

    /// <summary>The credentials of <paramref name="socket"/>'s peer; a <see cref="NativeCallException"/> naming getsockopt and the errno if the kernel has none.</summary>
    public static unsafe PeerCredentials Of(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Ucred cred;
        var length = (uint)sizeof(Ucred);
        var added = false;
        var handle = socket.SafeHandle;
        handle.DangerousAddRef(ref added);
        try
        {
            if (Libc.GetSockOpt((int)handle.DangerousGetHandle(), Libc.SOL_SOCKET, Libc.SO_PEERCRED, &cred, &length) != 0)
            {
                throw NativeCallException.FromLastError("getsockopt(SO_PEERCRED)");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        return new PeerCredentials(cred.Pid, cred.Uid, cred.Gid);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Ucred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }
}
