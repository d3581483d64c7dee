using System.Diagnostics;

namespace VmmSwap.Testing;

/// <summary>
/// A file system mounted for one test in a fresh temporary directory, unmounted and removed on
/// dispose. Mounting needs root with CAP_SYS_ADMIN; without it the test fails saying so.
/// </summary>
public sealed class TestMount : IDisposable
{
    private TestMount(string directory) => Directory = directory;

    /// <summary>The mount point.</summary>
    public string Directory { get; }

    /// <summary>Mounts <paramref name="type"/> (e.g. <c>ramfs</c>) with <paramref name="options"/> (e.g. <c>ro</c>) on a fresh directory.</summary>
    public static TestMount Create(string type, string? options = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory($"vmm-swap-{type}-").FullName;
        var (exit, error) = Run("mount", options is null ? ["-t", type, "none", directory] : ["-t", type, "-o", options, "none", directory]);
        if (exit != 0)
        {
            System.IO.Directory.Delete(directory);
            throw new InvalidOperationException(
                $"mount -t {type}{(options is null ? string.Empty : $" -o {options}")} none {directory} failed (exit {exit}): {OneLine(error)}; "
                + "mounting needs root with CAP_SYS_ADMIN: run the tests as root in an environment that allows mount");
        }

        return new TestMount(directory);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var (exit, error) = Run("umount", [Directory]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"umount {Directory} failed (exit {exit}): {OneLine(error)}");
        }

        System.IO.Directory.Delete(Directory);
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static (int Exit, string Error) Run(string command, string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Result);
    }
}
