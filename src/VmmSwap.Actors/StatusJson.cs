using System.Text.Json;
using System.Text.Json.Nodes;

namespace VmmSwap.Actors;

/// <summary>
/// Status as JSON in exactly crosvm's shape, so existing consumers parse it unchanged:
/// <c>{"state":"Active","metrics":{...},"state_transition":{"pages":0,"time_ms":0}}</c>.
/// The failure cause, when there is one, is an extra <c>error</c> key that crosvm consumers ignore,
/// and so is <c>host_memory</c> (<see cref="HostMemoryUse"/>, in bytes) while swap is enabled.
/// </summary>
public static class StatusJson
{
    /// <summary>Serialises <paramref name="status"/>.</summary>
    public static string Serialize(SwapStatus status) => ToNode(status).ToJsonString();

    /// <summary>The status as a JSON object, to embed in larger documents.</summary>
    public static JsonObject ToNode(SwapStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var m = status.Metrics;
        var node = new JsonObject
        {
            ["state"] = status.State.ToString(),
            ["metrics"] = new JsonObject
            {
                ["resident_pages"] = m.ResidentPages,
                ["copied_from_file_pages"] = m.CopiedFromFilePages,
                ["copied_from_staging_pages"] = m.CopiedFromStagingPages,
                ["zeroed_pages"] = m.ZeroedPages,
                ["redundant_pages"] = m.RedundantPages,
                ["staging_pages"] = m.StagingPages,
                ["swap_pages"] = m.SwapPages,
            },
            ["state_transition"] = new JsonObject
            {
                ["pages"] = status.StateTransition.Pages,
                ["time_ms"] = status.StateTransition.TimeMs,
            },
        };
        if (status.Failure is { } failure)
        {
            node["error"] = failure.Message;
            node["error_kind"] = failure.Kind.ToString();
        }

        if (status.HostMemory is { } held)
        {
            node["host_memory"] = new JsonObject
            {
                ["guest_resident_bytes"] = held.GuestResidentBytes,
                ["staging_bytes"] = held.StagingBytes,
                ["swap_file_bytes"] = held.SwapFileBytes,
                ["swap_file_cached_bytes"] = held.SwapFileCachedBytes,
            };
        }

        return node;
    }

    /// <summary>Parses a status document of crosvm's shape.</summary>
    public static SwapStatus Parse(string json)
    {
        var root = JsonNode.Parse(json) ?? throw new JsonException("status JSON is empty");
        var m = root["metrics"] ?? throw new JsonException("status JSON has no metrics");
        var t = root["state_transition"] ?? throw new JsonException("status JSON has no state_transition");
        return new SwapStatus(
            Enum.Parse<SwapState>(root["state"]!.GetValue<string>()),
            new Core.SwapMetrics(
                m["resident_pages"]!.GetValue<long>(),
                m["copied_from_file_pages"]!.GetValue<long>(),
                m["copied_from_staging_pages"]!.GetValue<long>(),
                m["zeroed_pages"]!.GetValue<long>(),
                m["redundant_pages"]!.GetValue<long>(),
                m["staging_pages"]!.GetValue<long>(),
                m["swap_pages"]!.GetValue<long>()),
            new StateTransition(t["pages"]!.GetValue<long>(), t["time_ms"]!.GetValue<long>()),
            root["error"]?.GetValue<string>() is { } error ? new SwapFailure(ParseKind(root["error_kind"]), error) : null,
            root["host_memory"] is { } held
                ? new HostMemoryUse(
                    held["guest_resident_bytes"]!.GetValue<long>(),
                    held["staging_bytes"]!.GetValue<long>(),
                    held["swap_file_bytes"]!.GetValue<long>(),
                    held["swap_file_cached_bytes"]!.GetValue<long>())
                : null);
    }

    // A document without the kind (crosvm's own, or an older one), or with a kind this version does
    // not know (a newer one), names no cause beyond its message.
    private static SwapFailureKind ParseKind(JsonNode? kind) =>
        kind is not null && Enum.TryParse<SwapFailureKind>(kind.GetValue<string>(), ignoreCase: false, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : SwapFailureKind.Internal;
}
