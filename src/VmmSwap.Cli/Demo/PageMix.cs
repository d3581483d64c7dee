using System.Text;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// Deterministic page contents in the proportions asked for: the same seed gives the same guest,
/// so a run can be repeated and a mismatch reproduced.
/// </summary>
public sealed class PageMix
{
    /// <summary>Distinct patterns the repeated pages share.</summary>
    public const int PatternCount = 8;

    private static readonly string[] Words =
    [
        "guest", "memory", "page", "fault", "staging", "swap", "kernel", "vcpu", "userfaultfd", "memfd",
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be",
        "idle", "trim", "resident", "file", "zero", "copy", "region", "huge", "host", "virtual", "machine",
    ];

    private readonly int _zero;
    private readonly int _repeated;
    private readonly int _text;
    private readonly byte[][] _patterns;
    private readonly byte[] _corpus;

    /// <summary>Creates the mix for <paramref name="options"/>'s percentages and seed.</summary>
    public PageMix(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _zero = options.ZeroPercent;
        _repeated = _zero + options.RepeatedPercent;
        _text = _repeated + options.TextPercent;
        var random = new Random(options.Seed);
        _patterns = new byte[PatternCount][];
        for (var i = 0; i < PatternCount; i++)
        {
            _patterns[i] = new byte[PageSize.Bytes];
            random.NextBytes(_patterns[i]);
        }

        _corpus = MakeCorpus(random, 64 * PageSize.Bytes);
    }

    /// <summary>Draws the kind of the next page.</summary>
    public PageKind NextKind(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var roll = random.Next(100);
        return roll < _zero ? PageKind.Zero
            : roll < _repeated ? PageKind.Repeated
            : roll < _text ? PageKind.Text
            : PageKind.Random;
    }

    /// <summary>Writes a page of <paramref name="kind"/> into <paramref name="page"/> (one page long).</summary>
    public void Fill(PageKind kind, Span<byte> page, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        switch (kind)
        {
            case PageKind.Zero:
                page.Clear();
                break;
            case PageKind.Repeated:
                _patterns[random.Next(PatternCount)].CopyTo(page);
                break;
            case PageKind.Text:
                // A window into the corpus at a random offset: text-like, yet nearly every page differs.
                var offset = random.Next(_corpus.Length - PageSize.Bytes);
                _corpus.AsSpan(offset, PageSize.Bytes).CopyTo(page);
                break;
            default:
                random.NextBytes(page);
                break;
        }
    }

    private static byte[] MakeCorpus(Random random, int length)
    {
        var text = new StringBuilder(length + 64);
        var column = 0;
        while (text.Length < length)
        {
            var word = Words[random.Next(Words.Length)];
            text.Append(word);
            column += word.Length + 1;
            if (column > 72)
            {
                text.Append('\n');
                column = 0;
            }
            else
            {
                text.Append(' ');
            }
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}
