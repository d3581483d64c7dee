using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Storage;

namespace VmmSwap.Actors.Hosting;

/// <summary>Adds the vmm-swap runtime to an ActorSystem built with Akka.Hosting.</summary>
public static class VmmSwapHostingExtensions
{
    /// <summary>
    /// Adds the vmm-swap runtime without a guest, for a host that adds its guests at run time
    /// with <see cref="VmmSwapGuests.For"/>: the vmm-swap HOCON as a fallback (the host's own
    /// <c>vmm-swap</c> keys win), the page-worker dispatcher sized for the options (those given,
    /// or those of the host's HOCON added before this call), and Akka's logging bridged to
    /// Microsoft.Extensions.Logging (and so to Serilog where the host registered it). The bridge
    /// joins the Akka loggers the host configured before this call; a host that configured none
    /// gets the bridge alone, in place of Akka's console logger. The log level stays the host's.
    /// <paramref name="options"/> in code take the place of the host's <c>vmm-swap</c> keys, so
    /// guests added without options of their own get them. When the host stops, every guest exits
    /// (every page swapped back in) before the ActorSystem terminates, for up to its
    /// <see cref="VmmSwapOptions.ShutdownTimeout"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithVmmSwap(this AkkaConfigurationBuilder builder, VmmSwapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (options is not null)
        {
            builder.AddHocon(options.Validated().ToHocon(), HoconAddMode.Prepend);
        }

        var runtime = options ?? VmmSwapOptions.FromConfig(builder.Configuration.GetOrElse(Config.Empty));
        return LoggerFactoryBridge.AddTo(builder.AddHocon(VmmSwapConfig.For(runtime), HoconAddMode.Append))
            .WithActors((system, _) => VmmSwapGuests.For(system));
    }

    /// <summary>
    /// Adds the vmm-swap runtime (<see cref="WithVmmSwap(AkkaConfigurationBuilder, VmmSwapOptions?)"/>)
    /// and starts it for <paramref name="guest"/>, the guest <see cref="VmmSwapGuests.DefaultId"/>
    /// of <see cref="VmmSwapGuests"/>, its <see cref="SwapSupervisor"/> also registered in the
    /// ActorRegistry under <see cref="SwapSupervisor"/>. Options come from the system's HOCON
    /// unless <paramref name="options"/> overrides them in code. A swap directory that cannot hold
    /// the swap file stops the start with <see cref="SwapDirectoryUnusableException"/>, before the
    /// supervisor exists. With <paramref name="pause"/>, every Enable pauses the host's vCPUs
    /// through it for the move to staging (<see cref="IGuestPause"/>).
    /// </summary>
    public static AkkaConfigurationBuilder WithVmmSwap(this AkkaConfigurationBuilder builder, GuestMemory guest, VmmSwapOptions? options = null, IGuestPause? pause = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(guest);
        return builder
            .WithVmmSwap(options)
            .WithActors((system, registry) =>
                registry.Register<SwapSupervisor>(VmmSwapGuests.For(system).Add(VmmSwapGuests.DefaultId, guest, options, pause).Supervisor));
    }

    /// <summary>
    /// Adds an ActorSystem named <paramref name="systemName"/> hosting the vmm-swap runtime for
    /// <paramref name="guest"/>: <c>services.AddAkka(systemName, b => b.WithVmmSwap(guest, options))</c>.
    /// </summary>
    public static IServiceCollection AddVmmSwap(this IServiceCollection services, GuestMemory guest, VmmSwapOptions? options = null, string systemName = "vmm-swap")
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddAkka(systemName, b => b.WithVmmSwap(guest, options));
    }
}
