using System.Net.Sockets;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Sockets;

namespace VmmSwap.Actors.Control;

/// <summary>
/// Reads newline-terminated messages from a socket without ever holding more than
/// <see cref="ControlProtocol.MaxMessageBytes"/>: a message longer than that is refused before it
/// is read whole, so a peer cannot make the host buffer without bound. Descriptors passed with
/// SCM_RIGHTS belong to the message that holds the last byte of the receive they came with: the
/// kernel ends a receive after the bytes of the sendmsg that carried descriptors, so a client
/// that sends a whole request with its descriptors in one sendmsg has them on that request.
/// </summary>
internal sealed class LineReader(Socket socket) : IDisposable
{
    private readonly byte[] _buffer = new byte[ControlProtocol.MaxMessageBytes];
    private readonly byte[] _peek = new byte[1];

    // Descriptors received, with the stream offset of the last byte that came with them.
    private readonly Queue<(long LastByte, IReadOnlyList<SafeFd> Fds, bool Truncated)> _descriptors = new();
    private int _start;
    private int _end;

    // Stream offset of _buffer[_start].
    private long _offset;

    /// <summary>The next message, or null at a clean end of stream.</summary>
    /// <exception cref="MessageTooLargeException">No newline within <see cref="ControlProtocol.MaxMessageBytes"/>.</exception>
    /// <exception cref="TruncatedMessageException">The stream ended inside a message.</exception>
    internal async ValueTask<ReceivedLine?> ReadAsync(CancellationToken cancellationToken)
    {
        var scanned = _start;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', scanned, _end - scanned);
            if (newline >= 0)
            {
                var line = _buffer.AsMemory(_start, newline - _start).ToArray();
                var newlineOffset = _offset + (newline - _start);
                _offset = newlineOffset + 1;
                _start = newline + 1;
                return Take(line, newlineOffset);
            }

            scanned = _end;
            if (_start > 0)
            {
                // Keep the partial message at the front so the whole buffer is room for it.
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                scanned -= _start;
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                throw new MessageTooLargeException();
            }

            var read = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return _end == _start ? null : throw new TruncatedMessageException(_end - _start);
            }

            _end += read;
        }
    }

    /// <summary>Closes descriptors received that no message took.</summary>
    public void Dispose()
    {
        while (_descriptors.TryDequeue(out var entry))
        {
            foreach (var fd in entry.Fds)
            {
                fd.Dispose();
            }
        }
    }

    // .NET's Socket has no recvmsg with ancillary data: wait for readability with a one-byte
    // peek (it takes nothing, descriptors included), then receive natively without waiting.
    private async ValueTask<int> ReceiveAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (await socket.ReceiveAsync(_peek, SocketFlags.Peek, cancellationToken).ConfigureAwait(false) == 0)
            {
                return 0;
            }

            if (DescriptorPassing.TryReceive(socket, _buffer.AsSpan(_end)) is not { } received)
            {
                continue;
            }

            if (received.Descriptors.Count > 0 || received.DescriptorsTruncated)
            {
                var lastByte = _offset + (_end - _start) + received.Length - 1;
                _descriptors.Enqueue((lastByte, received.Descriptors, received.DescriptorsTruncated));
            }

            return received.Length;
        }
    }

    private ReceivedLine Take(byte[] line, long newlineOffset)
    {
        var fds = new List<SafeFd>();
        var truncated = false;
        while (_descriptors.TryPeek(out var entry) && entry.LastByte <= newlineOffset)
        {
            _descriptors.Dequeue();
            fds.AddRange(entry.Fds);
            truncated |= entry.Truncated;
        }

        return new ReceivedLine(line, fds, truncated);
    }
}
