using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Actors.Control;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Sockets;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Actors.Tests.Control;

/// <summary>
/// attach_process over the control socket (docs/PROTOCOL.md, "Device processes"), with the C
/// device process of tools/device-process: real processes mapping the guest at their own
/// addresses, each with its own userfaultfd passed with SCM_RIGHTS; and the descriptor errors.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DeviceProcessSocketTests : IDisposable
{
    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;
    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-swap-devices-").FullName;

    private string SocketPath => Path.Combine(_dir, "control.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Two_device_processes_with_their_own_layouts_see_every_page_while_pending_active_and_swapping_in()
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 91);
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-two");
        var swap = Guest(host);
        using var a = DeviceProcess.Start(SocketPath, Regions(guest));
        using var b = DeviceProcess.Start(SocketPath, Regions(guest));
        Assert.NotEqual(guest.Memory.Regions[0].HostAddress, a.MappedAt[0]);
        Assert.NotEqual(a.MappedAt[0], b.MappedAt[0]);

        await swap.EnableAsync().WaitAsync(Deadline);
        var pages = guest.Memory.PageCount;
        for (long p = 0; p < pages / 3; p++)
        {
            Assert.Equal(Hash(guest, p), (p % 2 == 0 ? a : b).ReadPage(p));
        }

        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        for (long p = pages / 3; p < 2 * pages / 3; p++)
        {
            Assert.Equal(Hash(guest, p), (p % 2 == 0 ? a : b).ReadPage(p));
        }

        b.WritePage(pages - 2, 0x3C);
        guest.Expected[pages - 2] = Enumerable.Repeat((byte)0x3C, PageSize.Bytes).ToArray();

        await swap.DisableAsync().WaitAsync(Deadline);
        for (var p = 2 * pages / 3; p < pages; p++)
        {
            Assert.Equal(Hash(guest, p), a.ReadPage(p));
            Assert.Equal(Hash(guest, p), b.ReadPage(p));
        }

        Assert.Null((await swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_device_process_attached_while_swapped_out_reads_every_page_and_is_detached_by_request_or_when_its_connection_closes()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 92);
        var sink = new InMemorySink();
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-enabled", sink);
        var swap = Guest(host);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        using var first = DeviceProcess.Start(SocketPath, Regions(guest));
        for (long p = 0; p < guest.Memory.PageCount; p++)
        {
            Assert.Equal(Hash(guest, p), first.ReadPage(p));
        }

        var detached = JsonNode.Parse(first.Detach())!.AsObject();
        Assert.True((bool?)detached["ok"], detached.ToJsonString());
        Assert.Equal("detach_process", (string?)detached["command"]);

        using var second = DeviceProcess.Start(SocketPath, Regions(guest));
        Assert.Equal(Hash(guest, 7), second.ReadPage(7));
        second.CloseConnection();
        await sink.WaitForAsync($"detached device process {second.Pid} from guest", Deadline);
        await Assert.ThrowsAsync<SwapCommandException>(() => swap.DetachProcessAsync(second.Pid).WaitAsync(Deadline));

        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task The_connection_of_an_attached_process_is_not_closed_for_idling()
    {
        using var guest = new GuestFixture(16);
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-idle", idleTimeout: TimeSpan.FromSeconds(1));
        using var device = DeviceProcess.Start(SocketPath, Regions(guest));

        // A client that connected after the device process went silent is closed for idling first.
        using var idle = await ControlClient.ConnectAsync(SocketPath);
        var closed = await idle.ReadAsync();
        Assert.Equal(ControlErrorCode.IdleTimeout, (string?)closed!["error"]!["code"]);

        var detached = JsonNode.Parse(device.Detach())!.AsObject();
        Assert.True((bool?)detached["ok"], detached.ToJsonString());
    }

    [Fact]
    public async Task A_device_process_killed_mid_way_is_detached_and_the_runtime_goes_on()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 93);
        var sink = new InMemorySink();
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-killed", sink);
        var swap = Guest(host);
        using var device = DeviceProcess.Start(SocketPath, Regions(guest), freeze: true);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(Hash(guest, 5), device.ReadPage(5));

        // Its exit (the pidfd) or its connection's end, whichever the runtime sees first, detaches it.
        device.Kill();
        await sink.WaitForAsync($"device process {device.Pid} detached", Deadline);

        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        Assert.Null((await swap.WaitForStateAsync(SwapState.Ready, Deadline)).Error);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_frozen_device_process_is_stopped_for_the_move_and_resumed_after_it_also_when_enable_fails()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 94);
        var swapDir = Directory.CreateDirectory(Path.Combine(_dir, "swap")).FullName;
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-freeze", options: SwapTestKit.Options() with { SwapDirectory = swapDir });
        var swap = Guest(host);
        using var frozen = DeviceProcess.Start(SocketPath, Regions(guest), freeze: true);
        using var free = DeviceProcess.Start(SocketPath, Regions(guest));

        // SIGCONT is sent only to a process that was sent SIGSTOP: one each Enable.
        await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(1, frozen.Continues);
        Assert.Equal(0, free.Continues);
        Assert.Equal(Hash(guest, 3), frozen.ReadPage(3));
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        // The swap file cannot be created: Enable fails after the freeze, and the process runs again.
        Directory.Delete(swapDir);
        await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync().WaitAsync(Deadline));
        Assert.Equal(2, frozen.Continues);
        Assert.Equal(Hash(guest, 4), frozen.ReadPage(4));
    }

    [Fact]
    public async Task Wrong_descriptor_counts_and_a_descriptor_that_is_no_userfaultfd_get_error_replies_and_the_connection_goes_on()
    {
        using var guest = new GuestFixture(16);
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-bad-fds");
        using var connection = new RawConnection(SocketPath);
        Assert.Equal(1, (int?)connection.Send("""{"hello":"vmm-swap","version":1}""")["version"]);
        var attach = $$"""{"id":1,"command":"attach_process","regions":[{{(long)guest.Memory.Regions[0].HostAddress}}]}""";

        using var uffd = Userfaultfd.Create();
        using var other = Userfaultfd.Create();
        using var memfd = MemFd.Create("not-a-uffd", 4096);
        AssertError(connection.Send(attach), ControlErrorCode.BadDescriptors);
        AssertError(connection.Send(attach, uffd.Fd, other.Fd), ControlErrorCode.BadDescriptors);
        AssertError(connection.Send("""{"id":2,"command":"status"}""", uffd.Fd), ControlErrorCode.BadDescriptors);
        var notUffd = connection.Send(attach, memfd);
        AssertError(notUffd, ControlErrorCode.NotAUserfaultfd);
        Assert.Contains("not a userfaultfd", (string?)notUffd["error"]!["message"], StringComparison.Ordinal);

        // A userfaultfd whose process maps nothing where the request says: refused by the runtime,
        // which still answers.
        var nowhere = AssertError(connection.Send("""{"id":4,"command":"attach_process","regions":[65536]}""", Userfaultfd.Create().Fd), ControlErrorCode.Failed);
        Assert.Contains("cannot be registered", (string?)nowhere["error"]!["message"], StringComparison.Ordinal);

        // An address of the request's form (below 2^63) past the top of the process's address
        // space is the kernel's to refuse.
        var pastTop = AssertError(connection.Send("""{"id":5,"command":"attach_process","regions":[9223372036854771712]}""", Userfaultfd.Create().Fd), ControlErrorCode.Failed);
        Assert.Contains("EINVAL", (string?)pastTop["error"]!["message"], StringComparison.Ordinal);
        var status = connection.Send("""{"id":3,"command":"status"}""");
        Assert.True((bool?)status["ok"]);
        Assert.Equal("Ready", (string?)status["status"]!["state"]);
    }

    [Theory]
    [InlineData("""{"command":"attach_process","regions":[-4096]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":[0]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":[18446744073709547520]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":[9223372036854775808]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":[4096.5]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":["4096"]}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":4096}""", "'regions'")]
    [InlineData("""{"command":"attach_process"}""", "'regions'")]
    [InlineData("""{"command":"attach_process","regions":[HOST],"freeze":"yes"}""", "'freeze'")]
    [InlineData("""{"command":"attach_process","regions":[HOST],"freeze":1}""", "'freeze'")]
    [InlineData("""{"command":"attach_process","regions":[HOST],"pid":-1}""", "'pid'")]
    [InlineData("""{"command":"attach_process","regions":[HOST],"pid":"1"}""", "'pid'")]
    [InlineData("""{"command":"attach_process","regions":[HOST],"pid":2147483648}""", "'pid'")]
    [InlineData("""{"command":"detach_process","pid":"1"}""", "'pid'")]
    public async Task A_field_of_the_wrong_type_or_range_gets_bad_request_naming_it_and_the_connection_goes_on(string request, string field)
    {
        using var guest = new GuestFixture(16);
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-bad-fields");
        using var connection = new RawConnection(SocketPath);
        Assert.Equal(1, (int?)connection.Send("""{"hello":"vmm-swap","version":1}""")["version"]);
        using var uffd = Userfaultfd.Create();
        var json = request.Replace("HOST", $"{(long)guest.Memory.Regions[0].HostAddress}", StringComparison.Ordinal);
        var reply = AssertError(connection.Send(json, request.Contains("attach_process", StringComparison.Ordinal) ? [uffd.Fd] : []), ControlErrorCode.BadRequest);
        Assert.Contains(field, (string?)reply["error"]!["message"], StringComparison.Ordinal);

        var status = connection.Send("""{"id":3,"command":"status"}""");
        Assert.True((bool?)status["ok"], status.ToJsonString());
        Assert.Equal("Ready", (string?)status["status"]!["state"]);
    }

    [Fact]
    public async Task The_python_device_process_of_PROTOCOL_md_attaches_and_reads_a_swapped_out_page()
    {
        var protocol = await File.ReadAllTextAsync(Path.Combine(CProgram.RepositoryRoot(), "docs", "PROTOCOL.md"));
        var section = protocol[protocol.IndexOf("## Device processes", StringComparison.Ordinal)..];
        var start = section.IndexOf("```python\n", StringComparison.Ordinal) + "```python\n".Length;
        var code = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        using var guest = new GuestFixture(16, 8);
        guest.Fill(seed: 95);
        await using var host = await StartHostAsync(guest, "vmm-swap-devices-python");
        var swap = Guest(host);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        var python = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-c", code, SocketPath, .. guest.Memory.Regions.Select(r => $"/proc/{Environment.ProcessId}/fd/{r.MemFd.Value}:{r.MemFdOffset}:{r.Size}")])
        {
            python.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(python)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Deadline);
        Assert.True(process.ExitCode == 0, await error);
        Assert.Equal(guest.ExpectedHash(0), (await output).Trim());
        Assert.Equal(1, (await swap.StatusAsync().WaitAsync(Deadline)).Metrics.CopiedFromFilePages);
    }

    private static SwapController Guest(TestHost host) =>
        VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>()).Get(VmmSwapGuests.DefaultId);

    private static IEnumerable<(int MemFd, long Offset, ulong Size)> Regions(GuestFixture guest) =>
        guest.Memory.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, r.Size));

    private static string Hash(GuestFixture guest, long page) => DeviceProcess.HashOf(guest.Expected[page], PageSize.Bytes);

    private static JsonObject AssertError(JsonObject reply, string code)
    {
        Assert.False((bool?)reply["ok"], reply.ToJsonString());
        Assert.Equal(code, (string?)reply["error"]!["code"]);
        return reply;
    }

    private Task<TestHost> StartHostAsync(GuestFixture guest, string systemName, InMemorySink? sink = null, VmmSwapOptions? options = null, TimeSpan? idleTimeout = null) =>
        TestHost.StartAsync(sink ?? new InMemorySink(), s => s.AddAkka(systemName, akka => akka
            .WithVmmSwap(guest.Memory, options ?? SwapTestKit.Options())
            .WithVmmSwapControlSocket(SocketPath, idleTimeout)));

    // A connection that sends each request with its descriptors on one sendmsg and reads one reply line.
    private sealed class RawConnection : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly StreamReader _reader;

        internal RawConnection(string path)
        {
            _socket.Connect(new UnixDomainSocketEndPoint(path));
            _reader = new StreamReader(new NetworkStream(_socket, ownsSocket: false), Encoding.UTF8);
        }

        internal JsonObject Send(string json, params SafeHandle[] fds)
        {
            DescriptorPassing.Send(_socket, Encoding.UTF8.GetBytes(json + "\n"), fds);
            return JsonNode.Parse(_reader.ReadLine() ?? throw new InvalidOperationException("closed"))!.AsObject();
        }

        public void Dispose()
        {
            _reader.Dispose();
            _socket.Dispose();
        }
    }
}
