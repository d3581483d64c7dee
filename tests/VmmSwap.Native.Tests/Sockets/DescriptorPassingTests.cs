using System.Net.Sockets;
using System.Runtime.InteropServices;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Sockets;

namespace VmmSwap.Native.Tests.Sockets;

/// <summary>sendmsg/recvmsg with SCM_RIGHTS over a real Unix stream socket pair.</summary>
public sealed class DescriptorPassingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmmswap-fdpass-").FullName;
    private readonly Socket _client;
    private readonly Socket _server;

    public DescriptorPassingTests()
    {
        var path = Path.Combine(_dir, "s");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        _client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _client.Connect(new UnixDomainSocketEndPoint(path));
        _server = listener.Accept();
    }

    [Fact]
    public void A_descriptor_sent_with_bytes_arrives_with_them_as_the_same_open_file()
    {
        using var memfd = MemFd.Create("passed", 4096);
        Assert.Equal(5, DescriptorPassing.Send(_client, "hello"u8, [memfd]));

        var buffer = new byte[64];
        var received = Receive(buffer);

        Assert.Equal("hello"u8.ToArray(), buffer[..received.Length]);
        var fd = Assert.Single(received.Descriptors);
        using (fd)
        {
            Assert.NotEqual(memfd.Value, fd.Value);
            Assert.Equal(new FileInfo($"/proc/self/fd/{memfd.Value}").LinkTarget, new FileInfo($"/proc/self/fd/{fd.Value}").LinkTarget);
        }

        Assert.False(received.DescriptorsTruncated);
    }

    [Fact]
    public void Bytes_without_descriptors_arrive_with_none_and_nothing_sent_is_null()
    {
        var buffer = new byte[64];
        Assert.Null(DescriptorPassing.TryReceive(_server, buffer));

        DescriptorPassing.Send(_client, "x\n"u8, []);
        var received = Receive(buffer);

        Assert.Equal(2, received.Length);
        Assert.Empty(received.Descriptors);
    }

    [Fact]
    public void More_descriptors_than_there_is_room_for_are_reported_truncated()
    {
        var fds = Enumerable.Range(0, DescriptorPassing.MaxDescriptors + 2).Select(i => MemFd.Create($"many{i}", 4096)).ToList();
        try
        {
            DescriptorPassing.Send(_client, "m"u8, [.. fds.Cast<SafeHandle>()]);
            var received = Receive(new byte[8]);

            Assert.True(received.DescriptorsTruncated);
            Assert.Equal(DescriptorPassing.MaxDescriptors, received.Descriptors.Count);
            foreach (var fd in received.Descriptors)
            {
                fd.Dispose();
            }
        }
        finally
        {
            fds.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void A_receive_stops_after_the_bytes_that_carried_descriptors()
    {
        using var memfd = MemFd.Create("boundary", 4096);
        DescriptorPassing.Send(_client, "ab"u8, []);
        DescriptorPassing.Send(_client, "cd"u8, [memfd]);
        DescriptorPassing.Send(_client, "ef"u8, []);

        var buffer = new byte[64];
        var total = new List<(string Bytes, int Fds)>();
        while (total.Sum(t => t.Bytes.Length) < 6)
        {
            var received = Receive(buffer);
            total.Add((System.Text.Encoding.ASCII.GetString(buffer, 0, received.Length), received.Descriptors.Count));
            foreach (var fd in received.Descriptors)
            {
                fd.Dispose();
            }
        }

        // The descriptor comes with a read that ends at "cd", never with "ef".
        var carrying = Assert.Single(total, t => t.Fds == 1);
        Assert.EndsWith("cd", carrying.Bytes, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ReceivedMessage Receive(byte[] buffer)
    {
        // The bytes are in the socket once Send returned; poll covers a slow wake-up all the same.
        Assert.True(_server.Poll(TimeSpan.FromSeconds(30), SelectMode.SelectRead));
        return DescriptorPassing.TryReceive(_server, buffer) ?? throw new InvalidOperationException("readable, yet nothing to receive");
    }
}
