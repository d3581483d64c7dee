using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using VmmSwap.Actors.Control;

namespace VmmSwap.Cli.Control;

/// <summary>
/// A client of the control socket (docs/PROTOCOL.md): connects, exchanges the hello, and sends
/// requests one at a time. Protocol failures (the server closed, answered something that is not a
/// reply, refused the hello) are <see cref="ControlUnreachableException"/>.
/// </summary>
public sealed class ControlClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private int _nextId = 1;

    private ControlClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096);
    }

    /// <summary>Connects to <paramref name="path"/> and exchanges the hello.</summary>
    public static async Task<ControlClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        ControlClient? client = null;
        try
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                // .NET names ENOENT "Cannot assign requested address".
                throw new ControlUnreachableException(File.Exists(path) || Directory.Exists(path)
                    ? $"cannot connect to {path}: {e.Message}"
                    : $"cannot connect to {path}: there is no such file (is the host running with its control socket there?)");
            }

            client = new ControlClient(socket);
            await client.SendAsync(new JsonObject { ["hello"] = ControlProtocol.Magic, ["version"] = ControlProtocol.Version }, cancellationToken).ConfigureAwait(false);
            var hello = await client.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (hello["error"] is JsonObject error)
            {
                throw new ControlUnreachableException($"{path} refused the connection: {error["message"]} ({error["code"]})");
            }

            if ((string?)hello["hello"] != ControlProtocol.Magic || hello["version"]?.ToJsonString() != ControlProtocol.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new ControlUnreachableException($"{path} did not answer the hello as vmm-swap protocol version {ControlProtocol.Version}: {hello.ToJsonString()}");
            }

            return client;
        }
        catch
        {
            client?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="command"/> for <paramref name="guest"/> and returns the reply (an error reply included).</summary>
    public async Task<JsonObject> RequestAsync(string command, string guest, CancellationToken cancellationToken)
    {
        await SendAsync(new JsonObject { ["id"] = _nextId++, ["command"] = command, ["guest"] = guest }, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
    }

    private async Task SendAsync(JsonObject message, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(message.ToJsonString() + "\n"), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new ControlUnreachableException($"the connection failed: {e.Message}");
        }
    }

    private async Task<JsonObject> ReadAsync(CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new ControlUnreachableException($"the connection failed: {e.Message}");
        }

        if (line is null)
        {
            throw new ControlUnreachableException("the server closed the connection without a reply");
        }

        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw new ControlUnreachableException($"the server sent something that is not a JSON object: {line}");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ControlUnreachableException($"the server sent something that is not JSON ({e.Message}): {line}");
        }
    }
}
