using Microsoft.Extensions.Hosting;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>The application lifetime of a <see cref="TestHost"/>: records whether a service asked the host to stop.</summary>
internal sealed class TestHostLifetime : IHostApplicationLifetime, IDisposable
{
    private readonly CancellationTokenSource _started = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _stopped = new();

    public CancellationToken ApplicationStarted => _started.Token;

    public CancellationToken ApplicationStopping => _stopping.Token;

    public CancellationToken ApplicationStopped => _stopped.Token;

    internal bool StopRequested { get; private set; }

    public void StopApplication()
    {
        StopRequested = true;
        _stopping.Cancel();
    }

    public void Dispose()
    {
        _started.Dispose();
        _stopping.Dispose();
        _stopped.Dispose();
    }
}
