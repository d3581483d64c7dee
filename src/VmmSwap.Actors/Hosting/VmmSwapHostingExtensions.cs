using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Core;
using VmmSwap.Native;

namespace VmmSwap.Actors.Hosting;

/// <summary>Adds the vmm-swap runtime to an ActorSystem built with Akka.Hosting.</summary>
public static class VmmSwapHostingExtensions
{
    /// <summary>
    /// Adds the vmm-swap HOCON as a fallback (the host's own <c>vmm-swap</c> keys win), bridges
    /// Akka's logging to Microsoft.Extensions.Logging (and so to Serilog where the host registered
    /// it) beside the Akka loggers the host configured before this call (a host that configured
    /// none gets the bridge alone, in place of Akka's console logger), and starts a <see cref="SwapSupervisor"/> for <paramref name="guest"/>, registered in the
    /// ActorRegistry under <see cref="SwapSupervisor"/>. Options come from the system's HOCON unless
    /// <paramref name="options"/> overrides them in code. A swap directory that cannot hold the swap
    /// file stops the start with <see cref="SwapDirectoryUnusableException"/>, before the supervisor
    /// exists. When the host stops, the supervisor exits (every page swapped back in) before the
    /// ActorSystem terminates, for up to <see cref="VmmSwapOptions.ShutdownTimeout"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithVmmSwap(this AkkaConfigurationBuilder builder, GuestMemory guest, VmmSwapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(guest);
        return LoggerFactoryBridge.AddTo(builder.AddHocon(VmmSwapConfig.For((options ?? new VmmSwapOptions()).Validated()), HoconAddMode.Append))
            .WithActors((system, registry) =>
            {
                var resolved = (options ?? VmmSwapOptions.FromConfig(system.Settings.Config)).Validated();
                SwapDirectoryProbe.Check(resolved.ResolvedSwapDirectory);
                var uffd = Userfaultfd.Create();
                var supervisor = system.ActorOf(SwapSupervisor.Props(guest, uffd, resolved), "vmm-swap");
                ExitOnShutdown.Register(system, supervisor, resolved);
                registry.Register<SwapSupervisor>(supervisor);
            });
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
