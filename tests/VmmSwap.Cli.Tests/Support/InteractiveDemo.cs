using System.Diagnostics;
using System.Text.Json.Nodes;

namespace VmmSwap.Cli.Tests.Support;

/// <summary>
/// A real <c>vmm-swap demo --json --control-socket SOCKET --interactive</c> child process, run by
/// the dotnet host that runs the tests, and what it has said on stderr so far.
/// </summary>
internal sealed class InteractiveDemo : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Task<string> _stdout;

    private InteractiveDemo(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
    }

    /// <summary>The lines the demo has written to stderr, in order.</summary>
    internal List<string> Said { get; } = [];

    internal bool HasExited => _process.HasExited;

    /// <summary>Starts the demo with its control socket at <paramref name="socket"/> and <paramref name="options"/> besides.</summary>
    internal static InteractiveDemo Start(string socket, params string[] options)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[typeof(Program).Assembly.Location, "demo", "--json", .. options, "--control-socket", socket, "--interactive"])
        {
            start.ArgumentList.Add(arg);
        }

        return new InteractiveDemo(Process.Start(start)!);
    }

    /// <summary>Reads stderr until a line contains <paramref name="text"/>; throws if the demo ends first.</summary>
    internal async Task UntilSaidAsync(string text)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (true)
        {
            var line = await _process.StandardError.ReadLineAsync(deadline.Token)
                ?? throw new InvalidOperationException($"the demo ended before saying '{text}': {string.Join(Environment.NewLine, Said)}");
            Said.Add(line);
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    /// <summary>Waits for the demo to end and returns its exit code, its JSON report (null if it printed none) and all it said on stderr.</summary>
    internal async Task<(int ExitCode, JsonNode? Report, string Said)> EndedAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(Deadline);
        var rest = await _process.StandardError.ReadToEndAsync();
        var stdout = await _stdout;
        var said = string.Join(Environment.NewLine, Said) + Environment.NewLine + rest;
        return (_process.ExitCode, string.IsNullOrWhiteSpace(stdout) ? null : JsonNode.Parse(stdout), said);
    }

    /// <summary>Kills the demo if a failed test left it waiting for commands.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
