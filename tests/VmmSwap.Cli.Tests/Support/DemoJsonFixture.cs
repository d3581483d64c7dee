using System.Text.Json.Nodes;

namespace VmmSwap.Cli.Tests.Support;

/// <summary>One small demo run with --json, shared by the tests that read its report.</summary>
public sealed class DemoJsonFixture : IAsyncLifetime
{
    internal const string Args = "demo --guest-mib 16 --regions 2 --vcpus 2 --idle-seconds 1 --json";

    internal CliRun Run { get; private set; } = null!;

    internal JsonNode Report { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Run = await CliRun.StartAsync(Args);
        Report = JsonNode.Parse(Run.Stdout) ?? throw new InvalidOperationException("the demo printed no JSON");
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
