using System.Diagnostics;
using System.Globalization;

namespace VmmSwap.Testing;

/// <summary>
/// Builds a small C program with the machine's cc and runs it: the tests ask the kernel's own
/// headers for ioctl numbers, struct sizes and field offsets instead of trusting copies of them.
/// </summary>
public static class CProgram
{
    /// <summary>
    /// Compiles <paramref name="source"/>, runs it, and returns what it printed as
    /// <c>name value</c> lines (values in decimal or 0x hex), by name.
    /// </summary>
    public static IReadOnlyDictionary<string, ulong> RunForValues(string source)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in Run(source).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 2);
            var text = parts[1].Trim();
            values[parts[0]] = text.StartsWith("0x", StringComparison.Ordinal)
                ? ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : ulong.Parse(text, CultureInfo.InvariantCulture);
        }

        return values;
    }

    /// <summary>
    /// Compiles the C file at <paramref name="sourcePath"/> with <c>cc</c> (and <paramref name="flags"/>)
    /// into a fresh temporary directory and returns the binary's path; the caller deletes it.
    /// </summary>
    public static string Build(string sourcePath, params string[] flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var dir = Directory.CreateTempSubdirectory("vmmswap-cbuild-");
        var binary = Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(sourcePath));
        var (exit, _, errors) = Execute("cc", [.. flags, "-o", binary, sourcePath]);
        return exit == 0 ? binary : throw new InvalidOperationException($"cc {sourcePath} failed (exit {exit}): {errors.Trim()}");
    }

    /// <summary>The repository's root: the nearest directory above the test binaries that holds VmmSwap.Actors.sln.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VmmSwap.Actors.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("the tests run outside the repository: no VmmSwap.Actors.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>Compiles <paramref name="source"/> with <c>cc</c>, runs it, and returns its standard output.</summary>
    public static string Run(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var dir = Directory.CreateTempSubdirectory("vmmswap-cprogram-");
        try
        {
            var sourcePath = Path.Combine(dir.FullName, "probe.c");
            var binary = Path.Combine(dir.FullName, "probe");
            File.WriteAllText(sourcePath, source);
            var (buildExit, _, buildErrors) = Execute("cc", ["-O0", "-o", binary, sourcePath]);
            if (buildExit != 0)
            {
                throw new InvalidOperationException($"cc failed (exit {buildExit}): {buildErrors.Trim()}");
            }

            var (exit, output, errors) = Execute(binary, []);
            return exit == 0 ? output : throw new InvalidOperationException($"the compiled probe exited {exit}: {errors.Trim()}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static (int Exit, string Output, string Errors) Execute(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} could not be started; the ABI tests need a C compiler as 'cc' on PATH (e.g. apt-get install gcc)", e);
        }

        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output, errors.Result);
        }
    }
}
