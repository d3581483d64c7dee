using System.Globalization;
using System.Text;

namespace VmmSwap.Actors.Hosting;

/// <summary>Values written as HOCON text that Akka's parser reads back unchanged.</summary>
internal static class HoconText
{
    /// <summary>A quoted string: backslash, quote and control characters escaped as in JSON, whose escapes HOCON shares.</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                < ' ' => text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => text.Append(c),
            };
        }

        return text.Append('"').ToString();
    }

    /// <summary>
    /// A duration: whole milliseconds in ms, anything finer in ns. Akka reads a duration in ns to
    /// the nearest 100-ns tick, so either form reads back as the same <see cref="TimeSpan"/>.
    /// </summary>
    internal static string Duration(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerMillisecond == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{value.Ticks / TimeSpan.TicksPerMillisecond}ms")
            : string.Create(CultureInfo.InvariantCulture, $"{checked(value.Ticks * (1_000_000_000 / TimeSpan.TicksPerSecond))}ns");
}
