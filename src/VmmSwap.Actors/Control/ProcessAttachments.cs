using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Control;

/// <summary>
/// The <c>attach_process</c> and <c>detach_process</c> requests of one connection
/// (docs/PROTOCOL.md, "Device processes"), and the processes it attached: they are detached when
/// the connection ends, however it ends, since nothing else would tell the runtime that the
/// process it stood for no longer vouches for its mapping.
/// </summary>
internal sealed class ProcessAttachments(int peerPid, ILoggingAdapter log)
{
    private static readonly TimeSpan DetachTimeout = TimeSpan.FromSeconds(5);
    private readonly List<(SwapController Controller, string Guest, int Pid)> _attached = [];

    /// <summary>Whether a process attached on this connection is still attached through it.</summary>
    internal bool Any => _attached.Count > 0;

    /// <summary>
    /// Runs an attach: exactly one descriptor, a userfaultfd, handed to the guest's supervisor with
    /// the pid and addresses of the request. Takes <paramref name="line"/>'s descriptors: every one
    /// not handed over is closed here.
    /// </summary>
    internal async Task<JsonObject> AttachAsync(JsonNode? id, JsonObject request, string guest, SwapController controller, ReceivedLine line, CancellationToken stop)
    {
        var handed = false;
        try
        {
            // Every field is checked before anything is done with the descriptor or the process.
            var pid = Pid(id, request);
            var addresses = Addresses(id, request);
            var freeze = request["freeze"] switch
            {
                null => false,
                JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
                var other => throw new ControlRequestException(id, ControlErrorCode.BadRequest, $"'freeze' must be true or false; it is {Shown(other)}"),
            };

            if (line.DescriptorsTruncated || line.Descriptors.Count != 1)
            {
                var count = line.DescriptorsTruncated ? $"more than {line.Descriptors.Count}" : $"{line.Descriptors.Count}";
                return ControlConnection.Error(id, ControlErrorCode.BadDescriptors, $"attach_process carries exactly one descriptor, its userfaultfd; this one came with {count}, all closed");
            }

            var uffd = Userfaultfd.Adopt(line.Descriptors[0]);
            try
            {
                uffd.Validate();
            }
            catch (InvalidUserfaultfdException e)
            {
                return ControlConnection.Error(id, ControlErrorCode.NotAUserfaultfd, e.Message);
            }

            // From here the runtime owns the descriptor, and closes it if it refuses it.
            handed = true;
            var reply = await controller.AttachProcessAsync(uffd, pid, addresses, freeze, stop).ConfigureAwait(false);
            _attached.Add((controller, guest, pid));
            log.Info("vmm-swap control: attached device process {0} to guest {1} for peer pid {2}", pid, guest, peerPid);
            return ControlConnection.Ok(id, "attach_process", guest, reply.Status, "accepted");
        }
        finally
        {
            if (!handed)
            {
                foreach (var fd in line.Descriptors)
                {
                    fd.Dispose();
                }
            }
        }
    }

    /// <summary>Runs a detach of the request's pid (the peer's when absent).</summary>
    internal async Task<JsonObject> DetachAsync(JsonNode? id, JsonObject request, string guest, SwapController controller, CancellationToken stop)
    {
        var pid = Pid(id, request);
        var reply = await controller.DetachProcessAsync(pid, stop).ConfigureAwait(false);
        _attached.RemoveAll(a => a.Controller == controller && a.Pid == pid);
        return ControlConnection.Ok(id, "detach_process", guest, reply.Status, "accepted");
    }

    /// <summary>The connection has ended: every process it attached and did not detach is detached now.</summary>
    internal async Task DetachAllAsync()
    {
        foreach (var (controller, guest, pid) in _attached)
        {
            try
            {
                await controller.DetachProcessAsync(pid).WaitAsync(DetachTimeout).ConfigureAwait(false);
                log.Info("vmm-swap control: detached device process {0} from guest {1}: the connection that attached it closed", pid, guest);
            }
            catch (Exception e)
            {
                // Already gone (it exited, or the runtime stopped): nothing is left to detach.
                log.Debug("vmm-swap control: detaching device process {0} from guest {1} at close: {2}", pid, guest, e.Message);
            }
        }

        _attached.Clear();
    }

    // A pid_t: the kernel's pid_max is far below int.MaxValue, so no pid is refused that could exist.
    private int Pid(JsonNode? id, JsonObject request) => request["pid"] switch
    {
        null => peerPid,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var pid) && pid > 0 => pid,
        var other => throw new ControlRequestException(id, ControlErrorCode.BadRequest, $"'pid' must be an integer from 1 to {int.MaxValue}; it is {Shown(other)}"),
    };

    // An address is a 64-bit signed integer to the runtime (nint); no user address space reaches
    // 2^63, so none that a process could map at is refused here. Alignment, the region count and
    // overlaps are the guest's to check (failed), not the request's form.
    private static nint[] Addresses(JsonNode? id, JsonObject request)
    {
        if (request["regions"] is not JsonArray regions)
        {
            var what = request["regions"] is { } other ? $"; it is {Shown(other)}" : "";
            throw new ControlRequestException(id, ControlErrorCode.BadRequest, $"attach_process needs 'regions', an array of the address of each guest region in the process, in the guest's order{what}");
        }

        var addresses = new nint[regions.Count];
        for (var i = 0; i < regions.Count; i++)
        {
            addresses[i] = regions[i] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var address) && address > 0
                ? (nint)address
                : throw new ControlRequestException(id, ControlErrorCode.BadRequest, $"'regions'[{i}] must be an integer address from 1 to 2^63-1; it is {Shown(regions[i])}");
        }

        return addresses;
    }

    // A value as the request wrote it, cut short: the reply names what was refused.
    private static string Shown(JsonNode? value)
    {
        var text = value?.ToJsonString() ?? "null";
        return text.Length > 40 ? text[..40] + "..." : text;
    }
}
