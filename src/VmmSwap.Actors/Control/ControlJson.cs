using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace VmmSwap.Actors.Control;

/// <summary>
/// A message of the control protocol read as a JSON object, strictly (docs/PROTOCOL.md, "Framing"):
/// UTF-8 throughout, every string valid Unicode, no key twice in one object.
/// </summary>
internal static class ControlJson
{
    // Enough of a key to recognise it in an error message, which a 64 KiB key would swamp.
    private const int QuotedKeyChars = 64;

    /// <summary>
    /// The object <paramref name="line"/> holds; anything else is a <see cref="ControlRequestException"/>
    /// of <see cref="ControlErrorCode.BadRequest"/> naming the cause.
    /// </summary>
    internal static JsonObject ParseObject(ReadOnlyMemory<byte> line)
    {
        // System.Text.Json checks a string's UTF-8 and escapes only when the string is read, and a
        // JsonObject looks for a key twice only when it is first read: left to it, a message would
        // fail while it is being handled, wherever it happened to be read, or never if never read.
        Validate(line.Span);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line.Span);
        }
        catch (JsonException e)
        {
            throw BadRequest($"the message is not JSON: {e.Message}");
        }

        return node as JsonObject ?? throw BadRequest("the message is not a JSON object");
    }

    private static void Validate(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes))
        {
            throw BadRequest($"the message is not valid UTF-8 (byte {FirstInvalidByte(bytes)})");
        }

        var reader = new Utf8JsonReader(bytes);
        var keys = new Stack<HashSet<string>>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        keys.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.EndObject:
                        keys.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        // Unescaped first: "command" and "comm\u0061nd" are one key.
                        var key = Text(ref reader);
                        if (!keys.Peek().Add(key))
                        {
                            throw BadRequest($"duplicate key '{(key.Length > QuotedKeyChars ? key[..QuotedKeyChars] + "..." : key)}': a key may appear once in an object");
                        }

                        break;
                    case JsonTokenType.String:
                        Text(ref reader);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw BadRequest($"the message is not JSON: {e.Message}");
        }
    }

    // A string's text; an escape of half a surrogate pair ("\ud800" alone) names no character.
    private static string Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw BadRequest($"a string of the message is not valid Unicode: {e.Message}");
        }
    }

    private static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (at < bytes.Length && Rune.DecodeFromUtf8(bytes[at..], out _, out var length) == OperationStatus.Done)
        {
            at += length;
        }

        return at;
    }

    private static ControlRequestException BadRequest(string message) => new(null, ControlErrorCode.BadRequest, message);
}
