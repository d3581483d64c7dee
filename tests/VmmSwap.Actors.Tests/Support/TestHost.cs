using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>The services of a generic host and its start / stop of hosted services.</summary>
/// <remarks>
/// The test project does not reference Microsoft.Extensions.Hosting (only its abstractions come in
/// through Akka.Hosting), so this does what HostBuilder's host does with the registered services:
/// build the provider, start every <see cref="IHostedService"/> in order, stop them in reverse.
/// Logging goes through Microsoft.Extensions.Logging to Serilog, into an <see cref="InMemorySink"/>.
/// </remarks>
internal sealed class TestHost : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;

    private readonly ServiceProvider _services;
    private readonly TestHostLifetime _lifetime;
    private readonly Serilog.Core.Logger _serilog;
    private readonly List<IHostedService> _hosted;
    private bool _stopped;

    private TestHost(ServiceProvider services, TestHostLifetime lifetime, Serilog.Core.Logger serilog)
    {
        _services = services;
        _lifetime = lifetime;
        _serilog = serilog;
        _hosted = [.. services.GetServices<IHostedService>()];
    }

    internal IServiceProvider Services => _services;

    internal bool StopRequested => _lifetime.StopRequested;

    /// <summary>A host whose actor system <paramref name="systemName"/> runs vmm-swap for <paramref name="guest"/>, or what <paramref name="addRuntime"/> adds.</summary>
    internal static Task<TestHost> StartAsync(GuestFixture guest, InMemorySink sink, string systemName, Action<IServiceCollection>? addRuntime = null) =>
        StartAsync(sink, addRuntime ?? (s => s.AddAkka(systemName, akka => akka.WithVmmSwap(guest.Memory, SwapTestKit.Options()))));

    /// <summary>A host with the services <paramref name="addRuntime"/> adds.</summary>
    internal static async Task<TestHost> StartAsync(InMemorySink sink, Action<IServiceCollection> addRuntime)
    {
        var serilog = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(sink).CreateLogger();
        var lifetime = new TestHostLifetime();
        var services = new ServiceCollection();
        services.AddSingleton<IHostApplicationLifetime>(lifetime);
        services.AddLogging(logging => logging.ClearProviders().SetMinimumLevel(LogLevel.Debug).AddSerilog(serilog));
        addRuntime(services);
        var host = new TestHost(services.BuildServiceProvider(), lifetime, serilog);
        Assert.NotEmpty(host._hosted);
        using var cancel = new CancellationTokenSource(Deadline);
        try
        {
            foreach (var service in host._hosted)
            {
                await service.StartAsync(cancel.Token);
            }
        }
        catch
        {
            // As a host whose start failed: what did start is stopped and the services disposed.
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    internal async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var cancel = new CancellationTokenSource(Deadline);
        for (var i = _hosted.Count - 1; i >= 0; i--)
        {
            await _hosted[i].StopAsync(cancel.Token).WaitAsync(Deadline);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _services.DisposeAsync();
        await _serilog.DisposeAsync();
        _lifetime.Dispose();
    }
}
