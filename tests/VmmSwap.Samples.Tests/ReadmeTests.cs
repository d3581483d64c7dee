namespace VmmSwap.Samples.Tests;

/// <summary>
/// The README's code cannot rot: its "Use it in your VMM" block is the sample's code that
/// <see cref="UseItInYourVmmTests"/> runs, and its set-up commands stay the two it promises.
/// </summary>
public sealed class ReadmeTests
{
    private const string SampleRegion = "#region Use it in your VMM";

    [Fact]
    public void The_use_it_in_your_vmm_block_is_the_sample_code_the_tests_run()
    {
        var readme = CodeBlocks(Section(ReadRepoFile("README.md"), "## Use it in your VMM"));
        var sample = ReadRepoFile("samples/VmmSwap.Samples/UseItInYourVmm.cs").Split('\n');
        var start = Array.FindIndex(sample, l => l.Trim().StartsWith(SampleRegion, StringComparison.Ordinal));
        Assert.True(start >= 0, $"the sample has no '{SampleRegion}'");
        var end = Array.FindIndex(sample, start, l => l.Trim() == "#endregion");
        Assert.True(end > start, "the sample's region has no #endregion");

        var block = Assert.Single(readme, b => b.Language == "csharp");
        Assert.Equal(Trimmed(sample[(start + 1)..end]), Trimmed(block.Lines));
    }

    [Fact]
    public void The_set_up_commands_are_the_demo_and_the_tests()
    {
        var blocks = CodeBlocks(Section(ReadRepoFile("README.md"), "## Set up and run"));

        Assert.Equal(
            ["dotnet run --project src/VmmSwap.Cli -c Release -- demo", "dotnet test VmmSwap.Actors.sln -c Release"],
            blocks.Select(b => string.Join('\n', Trimmed(b.Lines))));
    }

    private static List<string> Trimmed(IEnumerable<string> lines) => [.. lines.Select(l => l.Trim())];

    // The lines from the heading to the next heading of the same level.
    private static string[] Section(string markdown, string heading)
    {
        var lines = markdown.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var start = Array.IndexOf(lines, heading);
        Assert.True(start >= 0, $"README.md has no '{heading}'");
        var level = heading[..(heading.IndexOf(' ', StringComparison.Ordinal) + 1)];
        var end = Array.FindIndex(lines, start + 1, l => l.StartsWith(level, StringComparison.Ordinal));
        return lines[(start + 1)..(end < 0 ? lines.Length : end)];
    }

    private static List<(string Language, string[] Lines)> CodeBlocks(string[] lines)
    {
        var blocks = new List<(string, string[])>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            var close = Array.FindIndex(lines, i + 1, l => l.StartsWith("```", StringComparison.Ordinal));
            Assert.True(close > i, "README.md has an unclosed code block");
            blocks.Add((lines[i][3..].Trim(), lines[(i + 1)..close]));
            i = close;
        }

        return blocks;
    }

    private static string ReadRepoFile(string path)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VmmSwap.Actors.sln")))
            {
                return File.ReadAllText(Path.Combine(dir.FullName, path));
            }
        }

        throw new InvalidOperationException($"no VmmSwap.Actors.sln above {AppContext.BaseDirectory}");
    }
}
