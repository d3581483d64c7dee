using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Actors.Control;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.Tests.Control;

/// <summary>
/// The control socket of docs/PROTOCOL.md on a real host, a real guest and a real Unix socket:
/// every command's reply against the runtime's own status, the file's mode and life, the peer
/// check, every error reply, and clients at once. Past ~300 lines because these are the one
/// protocol's tests, sharing its host, raw client and out-of-process clients.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlSocketTests : IDisposable
{
    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;

    private readonly string _dir = Directory.CreateTempSubdirectory("vmm-swap-control-").FullName;

    private string SocketPath => Path.Combine(_dir, "control.sock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Every_command_over_the_socket_replies_with_the_runtimes_status()
    {
        using var guest = new GuestFixture(48);
        guest.Fill(seed: 71, stride: 2);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-commands");
        var swap = VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>()).Get(VmmSwapGuests.DefaultId);
        var (client, hello) = await ControlClient.OpenAsync(SocketPath);
        using var _ = client;
        Assert.Equal("vmm-swap", (string?)hello["hello"]);
        Assert.Equal(ControlProtocol.Version, (int?)hello["version"]);
        Assert.Equal(["default"], hello["guests"]!.AsArray().Select(g => (string?)g));

        var status = await client.RequestAsync("status", id: 7);
        Assert.True((bool?)status["ok"]);
        Assert.Equal(7, (int?)status["id"]);
        await AssertIsRuntimeStatusAsync(swap, status);
        Assert.Equal("Ready", (string?)status["status"]!["state"]);

        var refused = await client.RequestAsync("swap_out");
        AssertError(refused, ControlErrorCode.NotValidInState);
        Assert.Equal("Ready", (string?)refused["status"]!["state"]);

        var enable = await client.RequestAsync("enable", guest: "default");
        Assert.True((bool?)enable["ok"]);
        Assert.Equal("accepted", (string?)enable["outcome"]);
        Assert.Equal("Pending", (string?)enable["status"]!["state"]);
        Assert.Equal(guest.WrittenPages, (long?)enable["status"]!["metrics"]!["staging_pages"]);
        await AssertIsRuntimeStatusAsync(swap, enable);

        Assert.True((bool?)(await client.RequestAsync("trim"))["ok"]);
        await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        Assert.True((bool?)(await client.RequestAsync("swap_out"))["ok"]);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        var active = await client.RequestAsync("status");
        Assert.Equal("Active", (string?)active["status"]!["state"]);
        Assert.True((long?)active["status"]!["metrics"]!["swap_pages"] > 0);
        await AssertIsRuntimeStatusAsync(swap, active);

        Assert.True((bool?)(await client.RequestAsync("disable"))["ok"]);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());

        var exit = await client.RequestAsync("exit");
        Assert.True((bool?)exit["ok"]);
        AssertError(await client.RequestAsync("status"), ControlErrorCode.RuntimeStopped);

        // Once the registry has forgotten the stopped guest, it is still a stopped runtime to a
        // client (it answered unknown_guest then), and no longer listed.
        var guests = VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>());
        var until = Stopwatch.StartNew();
        while (guests.Ids.Count > 0)
        {
            Assert.True(until.Elapsed < Deadline, "the exited guest stayed listed");
            await Task.Delay(10);
        }

        AssertError(await client.RequestAsync("status"), ControlErrorCode.RuntimeStopped);
        var (later, laterHello) = await ControlClient.OpenAsync(SocketPath);
        using (later)
        {
            Assert.Empty(laterHello["guests"]!.AsArray());
            AssertError(await later.RequestAsync("enable"), ControlErrorCode.RuntimeStopped);
            AssertError(await later.RequestAsync("status", guest: "vm-9"), ControlErrorCode.UnknownGuest);
        }
    }

    [Fact]
    public async Task The_socket_file_is_0600_replaces_a_stale_socket_and_is_removed_when_the_host_stops()
    {
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(SocketPath));
        }

        using var guest = new GuestFixture(8);
        var host = await StartHostAsync(guest, "vmm-swap-control-file");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
        var (client, _) = await ControlClient.OpenAsync(SocketPath);
        using (client)
        {
            await host.StopAsync();
            Assert.Null(await client.ReadAsync());
        }

        Assert.False(File.Exists(SocketPath));
        await host.DisposeAsync();
    }

    [Fact]
    public async Task A_path_that_is_not_a_socket_or_is_served_is_left_alone_and_fails_the_start()
    {
        await File.WriteAllTextAsync(SocketPath, "keep me");
        using var guest = new GuestFixture(8);
        var error = await Assert.ThrowsAsync<IOException>(() => StartHostAsync(guest, "vmm-swap-control-file-there"));
        Assert.Contains("not a socket", error.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(SocketPath));

        File.Delete(SocketPath);
        await using var first = await StartHostAsync(guest, "vmm-swap-control-first");
        using var other = new GuestFixture(8);
        error = await Assert.ThrowsAsync<IOException>(() => StartHostAsync(other, "vmm-swap-control-second"));
        Assert.Contains("another process serves it", error.Message, StringComparison.Ordinal);
        var (client, _) = await ControlClient.OpenAsync(SocketPath);
        using (client)
        {
            Assert.True((bool?)(await client.RequestAsync("status"))["ok"]);
        }
    }

    [Fact]
    public async Task A_peer_of_another_uid_is_refused_and_logged()
    {
        using var guest = new GuestFixture(8);
        var sink = new InMemorySink();
        await using var host = await StartHostAsync(guest, "vmm-swap-control-uid", sink);

        // The file's mode alone keeps uid 65534 out ...
        var denied = await RunAsNobodyAsync(SocketPath);
        Assert.Contains("PermissionError", denied, StringComparison.Ordinal);

        // ... and with the file opened up, the server's own check does.
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);
        var reply = JsonNode.Parse(await RunAsNobodyAsync(SocketPath))!.AsObject();
        AssertError(reply, ControlErrorCode.PermissionDenied);
        Assert.Contains("uid 65534", (string?)reply["error"]!["message"], StringComparison.Ordinal);
        await sink.WaitForAsync("refused a connection from pid", Deadline);

        var (client, _) = await ControlClient.OpenAsync(SocketPath);
        using (client)
        {
            Assert.True((bool?)(await client.RequestAsync("status"))["ok"]);
        }
    }

    [Fact]
    public async Task Bad_requests_get_their_error_and_the_connection_goes_on()
    {
        using var guest = new GuestFixture(8);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-bad-requests");
        var (client, _) = await ControlClient.OpenAsync(SocketPath);
        using var _ = client;

        await client.SendLineAsync("{\"command\": ");
        AssertError(await client.ReadAsync(), ControlErrorCode.BadRequest);
        await client.SendLineAsync("[1,2]");
        AssertError(await client.ReadAsync(), ControlErrorCode.BadRequest);
        await client.SendRawAsync([0xff, 0xfe, (byte)'\n']);
        AssertError(await client.ReadAsync(), ControlErrorCode.BadRequest);
        await client.SendLineAsync("""{"id":3,"command":5}""");
        var wrongType = await client.ReadAsync();
        AssertError(wrongType, ControlErrorCode.BadRequest);
        Assert.Equal(3, (int?)wrongType!["id"]);
        await client.SendLineAsync("""{"id":{"a":1},"command":"status"}""");
        AssertError(await client.ReadAsync(), ControlErrorCode.BadRequest);
        await client.SendLineAsync("""{"id":4}""");
        AssertError(await client.ReadAsync(), ControlErrorCode.BadRequest);

        var unknown = await client.RequestAsync("frobnicate", id: 5);
        AssertError(unknown, ControlErrorCode.UnknownCommand);
        Assert.Equal(5, (int?)unknown["id"]);
        Assert.Contains("frobnicate", (string?)unknown["error"]!["message"], StringComparison.Ordinal);
        var noGuest = await client.RequestAsync("status", guest: "vm-7");
        AssertError(noGuest, ControlErrorCode.UnknownGuest);
        Assert.Contains("the guests are default", (string?)noGuest["error"]!["message"], StringComparison.Ordinal);

        await client.SendLineAsync("""{"id":"last","command":"status"}""");
        var status = await client.ReadAsync();
        Assert.True((bool?)status!["ok"]);
        Assert.Equal("last", (string?)status["id"]);
    }

    [Theory]
    [InlineData("""{"command":"status","command":"exit"}""", "duplicate key 'command'")]
    [InlineData("""{"id":1,"id":2,"command":"status"}""", "duplicate key 'id'")]
    [InlineData("""{"command":"status","guest":"default","guest":"vm-7"}""", "duplicate key 'guest'")]
    [InlineData("""{"command":"status","comm\u0061nd":"exit"}""", "duplicate key 'command'")]
    [InlineData("""{"command":"status","extra":{"a":1,"a":2}}""", "duplicate key 'a'")]
    [InlineData("""{"command":"st\xff\xfeatus"}""", "not valid UTF-8")]
    [InlineData("""{"command":"status","guest":"\xff"}""", "not valid UTF-8")]
    [InlineData("""{"id":"\xc0\xaf","command":"status"}""", "not valid UTF-8")]
    [InlineData("""{"command":"status","note":"\xed\xa0\x80"}""", "not valid UTF-8")]
    [InlineData("""{"command":"status","\xff":1}""", "not valid UTF-8")]
    [InlineData("""{"command":"status","guest":"\ud800"}""", "not valid Unicode")]
    public async Task A_request_with_a_key_twice_or_a_string_not_UTF_8_gets_bad_request_and_the_connection_goes_on(string request, string cause)
    {
        using var guest = new GuestFixture(8);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-strict-json");
        var (client, _) = await ControlClient.OpenAsync(SocketPath);
        using var _ = client;

        // \xNN in the case stands for the byte NN, so that bytes that are not UTF-8 reach the wire.
        var bytes = System.Text.RegularExpressions.Regex.Replace(request, @"\\x([0-9a-f]{2})", m => ((char)Convert.ToByte(m.Groups[1].Value, 16)).ToString());
        await client.SendRawAsync([.. bytes.Select(c => (byte)c), (byte)'\n']);
        var reply = await client.ReadAsync();
        AssertError(reply, ControlErrorCode.BadRequest);
        Assert.Contains(cause, (string?)reply!["error"]!["message"], StringComparison.Ordinal);

        var status = await client.RequestAsync("status", id: 9);
        Assert.True((bool?)status["ok"], status.ToJsonString());
        Assert.Equal(9, (int?)status["id"]);
    }

    [Theory]
    [InlineData("""{"hello":"vmm-swap","version":2}""", ControlErrorCode.VersionMismatch)]
    [InlineData("""{"hello":"vmm-swap"}""", ControlErrorCode.VersionMismatch)]
    [InlineData("""{"id":1,"command":"status"}""", ControlErrorCode.HandshakeRequired)]
    [InlineData("not json", ControlErrorCode.HandshakeRequired)]
    public async Task A_bad_hello_gets_its_error_and_the_connection_is_closed(string hello, string code)
    {
        using var guest = new GuestFixture(8);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-hello");
        using var client = await ControlClient.ConnectAsync(SocketPath);
        await client.SendLineAsync(hello);
        AssertError(await client.ReadAsync(), code);
        Assert.Null(await client.ReadAsync());
    }

    [Fact]
    public async Task Framing_errors_get_their_error_and_close_only_their_connection()
    {
        using var guest = new GuestFixture(8);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-framing", idleTimeout: TimeSpan.FromMilliseconds(500));

        var (large, _) = await ControlClient.OpenAsync(SocketPath);
        using (large)
        {
            await large.SendRawAsync(Encoding.ASCII.GetBytes("{\"command\":\"" + new string('x', ControlProtocol.MaxMessageBytes + 10)));
            var tooLarge = await large.ReadAsync();
            AssertError(tooLarge, ControlErrorCode.TooLarge);
            Assert.Contains($"{ControlProtocol.MaxMessageBytes}", (string?)tooLarge!["error"]!["message"], StringComparison.Ordinal);
            Assert.Null(await large.ReadAsync());
        }

        var (truncated, _) = await ControlClient.OpenAsync(SocketPath);
        using (truncated)
        {
            await truncated.SendRawAsync(Encoding.ASCII.GetBytes("{\"command\":\"sta"));
            truncated.ShutdownSend();
            AssertError(await truncated.ReadAsync(), ControlErrorCode.Truncated);
            Assert.Null(await truncated.ReadAsync());
        }

        using (var silent = await ControlClient.ConnectAsync(SocketPath))
        {
            AssertError(await silent.ReadAsync(), ControlErrorCode.IdleTimeout);
            Assert.Null(await silent.ReadAsync());
        }

        var (after, _) = await ControlClient.OpenAsync(SocketPath);
        using (after)
        {
            Assert.True((bool?)(await after.RequestAsync("status"))["ok"]);
        }
    }

    [Fact]
    public async Task Clients_at_once_are_each_answered_and_a_silent_one_holds_up_no_other()
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 72);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-clients");
        using var silent = await ControlClient.ConnectAsync(SocketPath);
        var (a, _) = await ControlClient.OpenAsync(SocketPath);
        var (b, _) = await ControlClient.OpenAsync(SocketPath);
        using var _a = a;
        using var _b = b;

        var enable = a.RequestAsync("enable");
        for (var i = 0; i < 5; i++)
        {
            var status = await b.RequestAsync("status", id: i);
            Assert.True((bool?)status["ok"]);
            Assert.Equal(i, (int?)status["id"]);
        }

        Assert.True((bool?)(await enable)["ok"]);
        var both = await Task.WhenAll(a.RequestAsync("disable"), b.RequestAsync("disable"));

        // The supervisor takes them one after the other: the first starts the swap-in, the second
        // meets it running (accepted) or done (Ready: not valid).
        Assert.Contains(both, r => (bool?)r["ok"] == true);
        Assert.All(both, r => Assert.True((bool?)r["ok"] == true || (string?)r["error"]?["code"] == ControlErrorCode.NotValidInState, r.ToJsonString()));
        await VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>()).Get(VmmSwapGuests.DefaultId).WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task The_python_client_of_PROTOCOL_md_reads_the_status()
    {
        var protocol = await File.ReadAllTextAsync(Path.Combine(RepoRoot(), "docs", "PROTOCOL.md"));
        var section = protocol[protocol.IndexOf("## A client in Python", StringComparison.Ordinal)..];
        var start = section.IndexOf("```python\n", StringComparison.Ordinal) + "```python\n".Length;
        var code = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        using var guest = new GuestFixture(8);
        await using var host = await StartHostAsync(guest, "vmm-swap-control-python");
        var swap = VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>()).Get(VmmSwapGuests.DefaultId);

        var pythonStart = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir };
        pythonStart.ArgumentList.Add("-c");
        pythonStart.ArgumentList.Add(code.Replace("\"vs.sock\"", $"\"{SocketPath}\"", StringComparison.Ordinal));
        using var python = Process.Start(pythonStart)!;
        var output = python.StandardOutput.ReadToEndAsync();
        var error = python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync().WaitAsync(Deadline);
        Assert.True(python.ExitCode == 0, await error);
        var printed = (await output).Trim();

        // Python prints the dict's repr; its keys are crosvm's and its state the runtime's.
        Assert.Contains("'state': 'Ready'", printed, StringComparison.Ordinal);
        Assert.Contains("'swap_pages': 0", printed, StringComparison.Ordinal);
        Assert.Equal(SwapState.Ready, (await swap.StatusAsync().WaitAsync(Deadline)).State);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VmmSwap.Actors.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("the repository root was not found above the test's directory");
    }

    private static void AssertError(JsonObject? reply, params string[] codes)
    {
        Assert.NotNull(reply);
        Assert.False((bool?)reply["ok"], reply.ToJsonString());
        Assert.Contains((string?)reply["error"]!["code"], codes);
        Assert.False(string.IsNullOrWhiteSpace((string?)reply["error"]!["message"]));
    }

    private static async Task AssertIsRuntimeStatusAsync(SwapController swap, JsonObject reply) =>
        Assert.Equal(StatusJson.Serialize(await swap.StatusAsync().WaitAsync(Deadline)), reply["status"]!.ToJsonString());

    // A client in another process as uid 65534: connects, says hello, prints what it gets, or the error of its connect.
    private static async Task<string> RunAsNobodyAsync(string path)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print(type(e).__name__); sys.exit(0)\ns.sendall(b'{\"hello\":\"vmm-swap\",\"version\":1}\\n')\nprint(s.makefile().readline().strip())", path])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Deadline);
        Assert.True(process.ExitCode == 0, await error);
        return (await output).Trim();
    }

    private Task<TestHost> StartHostAsync(GuestFixture guest, string systemName, InMemorySink? sink = null, TimeSpan? idleTimeout = null) =>
        TestHost.StartAsync(sink ?? new InMemorySink(), s => s.AddAkka(systemName, akka => akka
            .WithVmmSwap(guest.Memory, SwapTestKit.Options())
            .WithVmmSwapControlSocket(SocketPath, idleTimeout)));
}
