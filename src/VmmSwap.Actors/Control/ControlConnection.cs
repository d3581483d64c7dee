using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Native.Sockets;

namespace VmmSwap.Actors.Control;

/// <summary>
/// One client of the <see cref="ControlSocket"/>: the peer check, the hello, then one request at a
/// time, each answered before the next is read (docs/PROTOCOL.md). Every command goes to the
/// guest's supervisor through its <see cref="SwapController"/>, so commands of different clients
/// are serialised by the supervisor's mailbox as the host's own are. Past ~300 lines because the
/// protocol of one connection (peer check, hello, a request's checks, its reply or error, the
/// lingering close) reads best in one place, top to bottom, as docs/PROTOCOL.md describes it.
/// </summary>
internal sealed class ControlConnection(Socket socket, VmmSwapGuests guests, ILoggingAdapter log, TimeSpan idleTimeout)
{
    // How long, and how much, a connection closed on an error is read after its last reply.
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(1);
    private const int LingerBytes = 1024 * 1024;

    private readonly LineReader _reader = new(socket);
    private PeerCredentials _peer;
    private ProcessAttachments? _attachments;

    /// <summary>Serves the connection until the peer closes it, an error closes it, or <paramref name="stop"/>.</summary>
    internal async Task ServeAsync(CancellationToken stop)
    {
        try
        {
            _peer = PeerCredentials.Of(socket);
            var own = PeerCredentials.EffectiveUid;
            if (_peer.Uid != 0 && _peer.Uid != own)
            {
                log.Warning("vmm-swap control: refused a connection from pid {0} uid {1}: only root and uid {2} may connect", _peer.Pid, _peer.Uid, own);
                await SendAsync(Error(null, ControlErrorCode.PermissionDenied, $"uid {_peer.Uid} may not control vmm-swap: only root and uid {own} may"), stop).ConfigureAwait(false);
                await LingerAsync().ConfigureAwait(false);
                return;
            }

            _attachments = new ProcessAttachments(_peer.Pid, log);
            if (await HandshakeAsync(stop).ConfigureAwait(false))
            {
                while (await ReadAsync(stop).ConfigureAwait(false) is { } line)
                {
                    await SendAsync(await HandleAsync(line, stop).ConfigureAwait(false), stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The host is stopping: the connection closes with it.
        }
        catch (ClosingError e)
        {
            log.Info("vmm-swap control: closed the connection of pid {0}: {1}", _peer.Pid, e.Message);
            await TrySendAsync(Error(e.Id, e.Code, e.Message), stop).ConfigureAwait(false);
            await LingerAsync().ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            log.Info("vmm-swap control: the connection of pid {0} failed: {1}", _peer.Pid, e.Message);
        }
        catch (Exception e)
        {
            log.Error(e, "vmm-swap control: the connection of pid {0} failed", _peer.Pid);
        }
        finally
        {
            socket.Dispose();
            _reader.Dispose();
            if (_attachments is not null)
            {
                await _attachments.DetachAllAsync().ConfigureAwait(false);
            }
        }
    }

    internal static JsonObject Error(JsonNode? id, string code, string message, SwapStatus? status = null)
    {
        var reply = new JsonObject { ["id"] = id, ["ok"] = false, ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };
        if (status is not null)
        {
            reply["status"] = StatusJson.ToNode(status);
        }

        return reply;
    }

    internal static JsonObject Ok(JsonNode? id, string command, string guest, SwapStatus status, string? outcome = null)
    {
        var reply = new JsonObject { ["id"] = id, ["ok"] = true, ["command"] = command, ["guest"] = guest };
        if (outcome is not null)
        {
            reply["outcome"] = outcome;
        }

        reply["status"] = StatusJson.ToNode(status);
        return reply;
    }

    private static string? OptionalString(JsonObject message, string key, JsonNode? id)
    {
        var value = message[key];
        return value switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw new ControlRequestException(id, ControlErrorCode.BadRequest, $"'{key}' must be a string"),
        };
    }

    // The hello must come first; anything else, or another version, is answered and closes.
    private async Task<bool> HandshakeAsync(CancellationToken stop)
    {
        if (await ReadAsync(stop).ConfigureAwait(false) is not { } line)
        {
            return false;
        }

        // The hello carries no descriptors; any that came with it are closed unread.
        Close(line.Descriptors);
        JsonObject hello;
        try
        {
            hello = ControlJson.ParseObject(line.Bytes);
        }
        catch (ControlRequestException e)
        {
            throw new ClosingError(null, ControlErrorCode.HandshakeRequired, $"the first message must be the hello {{\"hello\":\"{ControlProtocol.Magic}\",\"version\":{ControlProtocol.Version}}}; {e.Message}");
        }

        if (hello["hello"] is not JsonValue magic || magic.GetValueKind() != JsonValueKind.String || magic.GetValue<string>() != ControlProtocol.Magic)
        {
            throw new ClosingError(null, ControlErrorCode.HandshakeRequired, $"the first message must be the hello {{\"hello\":\"{ControlProtocol.Magic}\",\"version\":{ControlProtocol.Version}}}");
        }

        if (hello["version"] is not JsonValue version || version.GetValueKind() != JsonValueKind.Number || !version.TryGetValue<int>(out var number) || number != ControlProtocol.Version)
        {
            throw new ClosingError(null, ControlErrorCode.VersionMismatch, $"this server speaks protocol version {ControlProtocol.Version} only; the hello asked for {hello["version"]?.ToJsonString() ?? "no version"}");
        }

        await SendAsync(new JsonObject { ["hello"] = ControlProtocol.Magic, ["version"] = ControlProtocol.Version, ["guests"] = new JsonArray([.. guests.Ids.Select(i => (JsonNode)i)]) }, stop).ConfigureAwait(false);
        return true;
    }

    private async Task<JsonObject> HandleAsync(ReceivedLine line, CancellationToken stop)
    {
        JsonNode? id = null;
        var descriptorsTaken = false;
        try
        {
            var request = ControlJson.ParseObject(line.Bytes);
            id = request["id"]?.DeepClone();
            if (id is not null && (id is not JsonValue idValue || idValue.GetValueKind() is not (JsonValueKind.Number or JsonValueKind.String)))
            {
                throw new ControlRequestException(null, ControlErrorCode.BadRequest, "'id' must be a number or a string");
            }

            var command = OptionalString(request, "command", id) ?? throw new ControlRequestException(id, ControlErrorCode.BadRequest, "the request has no 'command'");
            var guest = OptionalString(request, "guest", id) ?? ControlProtocol.DefaultGuest;
            if (!ControlProtocol.Commands.Contains(command))
            {
                throw new ControlRequestException(id, ControlErrorCode.UnknownCommand, $"unknown command '{command}': the commands are {string.Join(", ", ControlProtocol.Commands)}");
            }

            if (!guests.TryGet(guest, out var controller))
            {
                // Forgotten once its supervisor stopped, an exited guest is still a stopped runtime
                // to a client, as its controller says while the registry still lists it.
                if (guests.HasExited(guest))
                {
                    throw new ControlRequestException(id, ControlErrorCode.RuntimeStopped, $"guest '{guest}' has stopped: its runtime stopped after exit, and the host has not added the guest again");
                }

                var ids = guests.Ids;
                throw new ControlRequestException(id, ControlErrorCode.UnknownGuest, $"no guest '{guest}': the guests are {(ids.Count == 0 ? "none" : string.Join(", ", ids))}");
            }

            log.Debug("vmm-swap control: {0} for guest {1} from pid {2}", command, guest, _peer.Pid);
            if (command == "attach_process")
            {
                descriptorsTaken = true;
                return await RunAsync(id, command, guest, () => _attachments!.AttachAsync(id, request, guest, controller, line, stop), stop).ConfigureAwait(false);
            }

            if (line.Descriptors.Count > 0 || line.DescriptorsTruncated)
            {
                throw new ControlRequestException(id, ControlErrorCode.BadDescriptors, $"only attach_process carries descriptors; the {line.Descriptors.Count} that came with {command} were closed");
            }

            return command == "detach_process"
                ? await RunAsync(id, command, guest, () => _attachments!.DetachAsync(id, request, guest, controller, stop), stop).ConfigureAwait(false)
                : await RunAsync(id, command, guest, controller, stop).ConfigureAwait(false);
        }
        catch (ControlRequestException e)
        {
            return Error(e.Id ?? id, e.Code, e.Message);
        }
        finally
        {
            if (!descriptorsTaken)
            {
                Close(line.Descriptors);
            }
        }
    }

    private static void Close(IReadOnlyList<Native.Interop.SafeFd> descriptors)
    {
        foreach (var fd in descriptors)
        {
            fd.Dispose();
        }
    }

    private static Task<JsonObject> RunAsync(JsonNode? id, string command, string guest, SwapController controller, CancellationToken stop) =>
        RunAsync(id, command, guest, async () =>
        {
            if (command == "status")
            {
                return Ok(id, command, guest, await controller.StatusAsync(stop).ConfigureAwait(false));
            }

            var reply = await (command switch
            {
                "enable" => controller.EnableAsync(stop),
                "trim" => controller.TrimAsync(stop),
                "swap_out" => controller.SwapOutAsync(stop),
                "disable" => controller.DisableAsync(stop),
                "prefetch" => controller.PrefetchAsync(stop),
                _ => controller.ExitAsync(stop),
            }).ConfigureAwait(false);
            return reply.Outcome == CommandOutcome.Ignored
                ? Error(id, ControlErrorCode.NotValidInState, reply.Reason ?? $"{command} is not valid in state {reply.Status.State}", reply.Status)
                : Ok(id, command, guest, reply.Status, "accepted");
        }, stop);

    // A command's failures as the protocol's error replies.
    private static async Task<JsonObject> RunAsync(JsonNode? id, string command, string guest, Func<Task<JsonObject>> run, CancellationToken stop)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (SwapCommandException e)
        {
            return Error(id, ControlErrorCode.Failed, e.Reply.Reason ?? e.Message, e.Reply.Status);
        }
        catch (SwapRuntimeStoppedException e)
        {
            return Error(id, ControlErrorCode.RuntimeStopped, $"guest '{guest}' has stopped: {e.Message}");
        }
        catch (ControlRequestException)
        {
            // The request's own error (a field attach_process refused): HandleAsync answers it with its code.
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            return Error(id, e is TimeoutException or Akka.Actor.AskTimeoutException ? ControlErrorCode.Failed : ControlErrorCode.Internal, $"{command} did not complete: {e.Message}");
        }
    }

    // Framing errors and silence close the connection: past them the stream cannot be trusted to
    // be at a message boundary, and a silent client must not hold a connection for ever.
    private async Task<ReceivedLine?> ReadAsync(CancellationToken stop)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);

        // A device process's connection stands for its attachment: silence there is expected.
        if (_attachments?.Any != true)
        {
            idle.CancelAfter(idleTimeout);
        }
        try
        {
            return await _reader.ReadAsync(idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            throw new ClosingError(null, ControlErrorCode.IdleTimeout, $"nothing was received for {idleTimeout.TotalSeconds} s");
        }
        catch (MessageTooLargeException e)
        {
            throw new ClosingError(null, ControlErrorCode.TooLarge, e.Message);
        }
        catch (TruncatedMessageException e)
        {
            throw new ClosingError(null, ControlErrorCode.Truncated, e.Message);
        }
    }

    private async Task SendAsync(JsonObject message, CancellationToken stop)
    {
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString() + "\n");
        for (var sent = 0; sent < bytes.Length;)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, stop).ConfigureAwait(false);
        }
    }

    // The last word to a peer that may already be gone.
    private async Task TrySendAsync(JsonObject message, CancellationToken stop)
    {
        try
        {
            await SendAsync(message, stop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            log.Debug("vmm-swap control: the error reply to pid {0} was not sent: {1}", _peer.Pid, e.Message);
        }
    }

    // Closing a socket whose peer's bytes are still unread resets the connection, and the peer may
    // then lose the error reply before it reads it: end our side, and read what the peer still
    // sends until it closes too, for a bounded time and amount.
    private async Task LingerAsync()
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var linger = new CancellationTokenSource(LingerTime);
            var buffer = new byte[16 * 1024];
            for (var drained = 0; drained < LingerBytes;)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, linger.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                drained += read;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone or keeps sending: it is closed either way.
        }
    }

    /// <summary>An error the connection gets as its last message before it is closed.</summary>
    private sealed class ClosingError(JsonNode? id, string code, string message) : Exception(message)
    {
        internal JsonNode? Id { get; } = id;

        internal string Code { get; } = code;
    }
}
