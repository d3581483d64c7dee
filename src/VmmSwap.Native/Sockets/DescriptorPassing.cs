using System.Net.Sockets;
using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Sockets;

/// <summary>
/// Bytes with descriptors over a Unix stream socket: sendmsg(2) and recvmsg(2) with SCM_RIGHTS
/// (unix(7)), which .NET's Socket does not offer. The kernel delivers descriptors with the bytes
/// of the sendmsg that carried them, and a recvmsg that reaches them stops after those bytes.
/// </summary>
public static unsafe class DescriptorPassing
{
    /// <summary>Descriptors one <see cref="TryReceive"/> has room for; more set <see cref="ReceivedMessage.DescriptorsTruncated"/>.</summary>
    public const int MaxDescriptors = 8;

    /// <summary>
    /// Sends <paramref name="data"/> with <paramref name="descriptors"/> (none is fine) in one
    /// sendmsg(2); returns the bytes sent, which for a stream may be fewer (the descriptors went
    /// with the first of them). A <see cref="NativeCallException"/> naming sendmsg and the errno on failure.
    /// </summary>
    public static int Send(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> descriptors)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(descriptors);
        var fds = new int[descriptors.Count];
        var refs = new bool[descriptors.Count];
        var controlLength = descriptors.Count == 0 ? 0 : SocketAbi.CmsgSpace(sizeof(int) * descriptors.Count);
        var control = stackalloc byte[Math.Max(controlLength, 1)];
        try
        {
            for (var i = 0; i < descriptors.Count; i++)
            {
                descriptors[i].DangerousAddRef(ref refs[i]);
                fds[i] = (int)descriptors[i].DangerousGetHandle();
            }

            new Span<byte>(control, controlLength).Clear();
            if (controlLength > 0)
            {
                var header = (SocketAbi.CmsgHdr*)control;
                header->Length = (nuint)SocketAbi.CmsgLen(sizeof(int) * fds.Length);
                header->Level = SocketAbi.SolSocket;
                header->Type = SocketAbi.ScmRights;
                fds.AsSpan().CopyTo(new Span<int>(control + SocketAbi.CmsgAlign(SocketAbi.CmsgHeaderSize), fds.Length));
            }

            fixed (byte* bytes = data)
            {
                var iov = new SocketAbi.IoVec { Base = (nint)bytes, Length = (nuint)data.Length };
                var message = new SocketAbi.MsgHdr
                {
                    Iov = (nint)(&iov),
                    IovLength = 1,
                    Control = controlLength == 0 ? 0 : (nint)control,
                    ControlLength = (nuint)controlLength,
                };
                using var lease = new HandleLease(socket.SafeHandle);
                var sent = Libc.SendMsg(lease.Fd, &message, SocketAbi.MsgNosignal);
                return sent >= 0 ? (int)sent : throw NativeCallException.FromLastError("sendmsg", $"{data.Length} bytes with {fds.Length} descriptors");
            }
        }
        finally
        {
            for (var i = 0; i < descriptors.Count; i++)
            {
                if (refs[i])
                {
                    descriptors[i].DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// One recvmsg(2) into <paramref name="buffer"/> that does not wait (MSG_DONTWAIT), taking up
    /// to <see cref="MaxDescriptors"/> descriptors close-on-exec; null when nothing is there yet.
    /// </summary>
    public static ReceivedMessage? TryReceive(Socket socket, Span<byte> buffer)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var controlLength = SocketAbi.CmsgSpace(sizeof(int) * MaxDescriptors);
        var control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        fixed (byte* bytes = buffer)
        {
            var iov = new SocketAbi.IoVec { Base = (nint)bytes, Length = (nuint)buffer.Length };
            var message = new SocketAbi.MsgHdr
            {
                Iov = (nint)(&iov),
                IovLength = 1,
                Control = (nint)control,
                ControlLength = (nuint)controlLength,
            };
            using var lease = new HandleLease(socket.SafeHandle);
            var received = Libc.RecvMsg(lease.Fd, &message, SocketAbi.MsgDontwait | SocketAbi.MsgCmsgCloexec);
            if (received < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == Libc.EAGAIN ? null : throw new NativeCallException("recvmsg", errno);
            }

            return new ReceivedMessage((int)received, Descriptors(control, (int)message.ControlLength), (message.Flags & SocketAbi.MsgCtrunc) != 0);
        }
    }

    private static List<SafeFd> Descriptors(byte* control, int length)
    {
        var fds = new List<SafeFd>();
        var headerSize = SocketAbi.CmsgAlign(SocketAbi.CmsgHeaderSize);
        for (var offset = 0; offset + headerSize <= length;)
        {
            var header = (SocketAbi.CmsgHdr*)(control + offset);
            var size = (int)header->Length;
            if (size < headerSize || offset + size > length)
            {
                break;
            }

            if (header->Level == SocketAbi.SolSocket && header->Type == SocketAbi.ScmRights)
            {
                var data = (int*)(control + offset + headerSize);
                for (var i = 0; i < (size - headerSize) / sizeof(int); i++)
                {
                    fds.Add(new SafeFd(data[i]));
                }
            }

            offset += SocketAbi.CmsgAlign(size);
        }

        return fds;
    }

    // Keeps the socket's descriptor from being closed and reused while a call uses its number.
    private ref struct HandleLease
    {
        private readonly SafeHandle _handle;
        private bool _added;

        internal HandleLease(SafeHandle handle)
        {
            _handle = handle;
            _handle.DangerousAddRef(ref _added);
            Fd = (int)_handle.DangerousGetHandle();
        }

        internal int Fd { get; }

        public void Dispose()
        {
            if (_added)
            {
                _handle.DangerousRelease();
                _added = false;
            }
        }
    }
}
