using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>A raw client of the control socket: whole lines out, whole lines in, nothing checked for the test.</summary>
internal sealed class ControlClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly List<byte> _pending = [];

    private ControlClient()
    {
    }

    internal static async Task<ControlClient> ConnectAsync(string path)
    {
        var client = new ControlClient();
        await client._socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return client;
    }

    /// <summary>Connects and exchanges the hello; returns the client and the server's hello.</summary>
    internal static async Task<(ControlClient Client, JsonObject Hello)> OpenAsync(string path)
    {
        var client = await ConnectAsync(path);
        await client.SendLineAsync("""{"hello":"vmm-swap","version":1}""");
        return (client, await client.ReadAsync() ?? throw new InvalidOperationException("no hello"));
    }

    internal Task SendLineAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

    internal async Task SendRawAsync(byte[] bytes)
    {
        for (var sent = 0; sent < bytes.Length;)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }
    }

    internal void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Sends a request and reads its reply.</summary>
    internal async Task<JsonObject> RequestAsync(string command, string? guest = null, int id = 1)
    {
        var request = new JsonObject { ["id"] = id, ["command"] = command };
        if (guest is not null)
        {
            request["guest"] = guest;
        }

        await SendLineAsync(request.ToJsonString());
        return await ReadAsync() ?? throw new InvalidOperationException($"the connection closed instead of answering {command}");
    }

    /// <summary>The next message, or null once the server has closed the connection.</summary>
    internal async Task<JsonObject?> ReadAsync()
    {
        using var deadline = new CancellationTokenSource(SwapTestKit.Deadline);
        var buffer = new byte[4096];
        while (true)
        {
            var newline = _pending.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = _pending.GetRange(0, newline).ToArray();
                _pending.RemoveRange(0, newline + 1);
                return JsonNode.Parse(line)!.AsObject();
            }

            var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (read == 0)
            {
                Assert.Empty(_pending);
                return null;
            }

            _pending.AddRange(buffer.AsSpan(0, read));
        }
    }

    public void Dispose() => _socket.Dispose();
}
