using System.Globalization;
using System.Text.RegularExpressions;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Tests.Interop;

public sealed partial class ErrnoNamesTests
{
    // x86_64's <asm/errno.h> is exactly <asm-generic/errno.h>, which includes errno-base.h.
    private static readonly string[] Headers = ["/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h"];

    [Fact]
    public void Every_errno_of_the_kernel_headers_gets_its_header_name()
    {
        var (numbers, aliases) = ParseHeaders();
        Assert.True(numbers.Count > 130, $"parsed only {numbers.Count} errno values from {string.Join(", ", Headers)}");

        var wrong = numbers
            .Where(e => ErrnoNames.Of(e.Value) != e.Key)
            .Select(e => $"{e.Value}: expected {e.Key}, got {ErrnoNames.Of(e.Value)}")
            .ToList();

        Assert.True(wrong.Count == 0, string.Join(Environment.NewLine, wrong));
        Assert.Contains("EWOULDBLOCK", aliases.Keys);
        Assert.Contains("EDEADLOCK", aliases.Keys);
        Assert.All(aliases, a => Assert.Equal(a.Value, ErrnoNames.Of(numbers[a.Value])));
    }

    [Fact]
    public void The_errnos_of_the_reported_messages_are_named()
    {
        Assert.Equal("EROFS", ErrnoNames.Of(30));
        Assert.Equal("EBUSY", ErrnoNames.Of(16));
        Assert.Equal("ENOTTY", ErrnoNames.Of(25));
        Assert.Contains("EROFS (", new NativeCallException("open", 30).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_no_header_defines_is_shown_as_a_number()
    {
        Assert.Equal("errno 0", ErrnoNames.Of(0));
        Assert.Equal("errno 4000", ErrnoNames.Of(4000));
        Assert.Equal("errno -1", ErrnoNames.Of(-1));
    }

    /// <summary>Numeric definitions (name to value) and aliases (name to the name it repeats).</summary>
    private static (Dictionary<string, int> Numbers, Dictionary<string, string> Aliases) ParseHeaders()
    {
        var numbers = new Dictionary<string, int>(StringComparer.Ordinal);
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Headers.SelectMany(File.ReadLines))
        {
            var match = Define().Match(line);
            if (!match.Success)
            {
                continue;
            }

            var (name, value) = (match.Groups["name"].Value, match.Groups["value"].Value);
            if (char.IsAsciiDigit(value[0]))
            {
                numbers.Add(name, int.Parse(value, CultureInfo.InvariantCulture));
            }
            else
            {
                aliases.Add(name, value);
            }
        }

        return (numbers, aliases);
    }

    [GeneratedRegex(@"^#define\s+(?<name>E[A-Z0-9]+)\s+(?<value>[0-9]+|E[A-Z0-9]+)\b")]
    private static partial Regex Define();
}
