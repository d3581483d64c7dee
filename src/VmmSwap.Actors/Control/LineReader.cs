using System.Net.Sockets;

namespace VmmSwap.Actors.Control;

/// <summary>
/// Reads newline-terminated messages from a socket without ever holding more than
/// <see cref="ControlProtocol.MaxMessageBytes"/>: a message longer than that is refused before it
/// is read whole, so a peer cannot make the host buffer without bound.
/// </summary>
internal sealed class LineReader(Socket socket)
{
    private readonly byte[] _buffer = new byte[ControlProtocol.MaxMessageBytes];
    private int _start;
    private int _end;

    /// <summary>The next message without its newline, or null at a clean end of stream.</summary>
    /// <exception cref="MessageTooLargeException">No newline within <see cref="ControlProtocol.MaxMessageBytes"/>.</exception>
    /// <exception cref="TruncatedMessageException">The stream ended inside a message.</exception>
    internal async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken)
    {
        var scanned = _start;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', scanned, _end - scanned);
            if (newline >= 0)
            {
                var line = _buffer.AsMemory(_start, newline - _start);
                _start = newline + 1;
                return line.ToArray();
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

            var read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return _end == _start ? null : throw new TruncatedMessageException(_end - _start);
            }

            _end += read;
        }
    }
}
