using System.Text.Json.Nodes;

namespace VmmSwap.Actors.Control;

/// <summary>A request the control socket answers with an error reply of <see cref="Code"/>; the connection goes on.</summary>
internal sealed class ControlRequestException(JsonNode? id, string code, string message) : Exception(message)
{
    /// <summary>The request's id, if it was read before the error.</summary>
    internal JsonNode? Id { get; } = id;

    /// <summary>One of <see cref="ControlErrorCode"/>.</summary>
    internal string Code { get; } = code;
}
