using Microsoft.Extensions.Hosting;

namespace VmmSwap.Cli.Common;

/// <summary>A host lifetime that reacts to no signal: the demo alone decides when the host stops.</summary>
public sealed class ManualHostLifetime : IHostLifetime
{
    /// <inheritdoc />
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
