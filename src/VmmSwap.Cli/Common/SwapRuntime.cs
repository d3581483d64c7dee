using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using VmmSwap.Actors;
using VmmSwap.Actors.Control;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Guest;

namespace VmmSwap.Cli.Common;

/// <summary>
/// The vmm-swap runtime hosted in this process the way a VMM would host it: a generic host with
/// Akka.Hosting, <see cref="VmmSwapHostingExtensions.WithVmmSwap(AkkaConfigurationBuilder, GuestMemory, VmmSwapOptions?, IGuestPause?)"/>, Akka's logging bridged through
/// Microsoft.Extensions.Logging to Serilog, and the supervisor taken from the ActorRegistry.
/// </summary>
public sealed class SwapRuntime : IAsyncDisposable
{
    private readonly IHost _host;

    private SwapRuntime(IHost host, SwapController controller)
    {
        _host = host;
        Controller = controller;
    }

    /// <summary>The facade the demo drives the supervisor with.</summary>
    public SwapController Controller { get; }

    /// <summary>The host's services (the ActorSystem among them), for tests.</summary>
    internal IServiceProvider Services => _host.Services;

    /// <summary>
    /// Starts the host and the runtime for <paramref name="guest"/>, its swap file in
    /// <paramref name="swapDirectory"/>, and a control socket at <paramref name="controlSocket"/> if one is given.
    /// <paramref name="workingSetFirst"/> records the working set (<c>vmm-swap.working-set-first</c>),
    /// which Prefetch needs and swap-in brings back first.
    /// </summary>
    public static async Task<SwapRuntime> StartAsync(GuestMemory guest, string swapDirectory, Serilog.ILogger logger, CancellationToken cancellationToken, string? controlSocket = null, bool workingSetFirst = false, IGuestPause? pause = null)
    {
        ArgumentNullException.ThrowIfNull(guest);
        ArgumentNullException.ThrowIfNull(logger);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());

        // Ctrl-C is the demo's to handle (swap back in, verify); the default console lifetime
        // would stop the host, and the actor system with it, while guest pages are swapped out.
        builder.Services.AddSingleton<IHostLifetime, ManualHostLifetime>();
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Warning).AddSerilog(logger, dispose: false);
        builder.Services.AddAkka("vmm-swap-demo", akka =>
        {
            akka.AddHocon(
                // Akka writes to stdout before its logger is up; stdout is the report's. And Akka
                // must not stop itself on SIGINT/SIGTERM (its CLR hook): the demo stops it, after
                // every page is back in the guest.
                """
                akka.stdout-loglevel = OFF
                akka.loglevel = WARNING
                akka.log-dead-letters-during-shutdown = off
                akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
                """,
                HoconAddMode.Prepend)
            .WithVmmSwap(guest, new VmmSwapOptions { SwapDirectory = swapDirectory, WorkingSetFirst = workingSetFirst }, pause);
            if (controlSocket is not null)
            {
                akka.WithVmmSwapControlSocket(controlSocket);
            }
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            var supervisor = host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>();
            return new SwapRuntime(host, new SwapController(supervisor));
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Stops the supervisor (swapping in whatever is still out) and then the host.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Controller.ExitAsync().WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Stopping the host below stops the supervisor anyway; Exit is only the tidy way.
        }

        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
    }
}
