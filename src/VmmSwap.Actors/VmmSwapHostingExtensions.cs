using Akka.Hosting;
using VmmSwap.Core;
using VmmSwap.Native;

namespace VmmSwap.Actors;

/// <summary>Adds the vmm-swap runtime to an ActorSystem built with Akka.Hosting.</summary>
public static class VmmSwapHostingExtensions
{
    /// <summary>
    /// Adds the vmm-swap HOCON (with <paramref name="options"/> over it), bridges Akka's logging to
    /// Microsoft.Extensions.Logging (and so to Serilog where the host registered it), and starts a
    /// <see cref="SwapSupervisor"/> for <paramref name="guest"/>, registered in the ActorRegistry
    /// under <see cref="SwapSupervisor"/>.
    /// </summary>
    public static AkkaConfigurationBuilder WithVmmSwap(this AkkaConfigurationBuilder builder, GuestMemory guest, VmmSwapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(guest);
        var resolved = (options ?? VmmSwapOptions.FromConfig(VmmSwapConfig.Default)).Validated();
        return builder
            .AddHocon(VmmSwapConfig.For(resolved), HoconAddMode.Append)
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .WithActors((system, registry) =>
            {
                var uffd = Userfaultfd.Create();
                registry.Register<SwapSupervisor>(system.ActorOf(SwapSupervisor.Props(guest, uffd, resolved), "vmm-swap"));
            });
    }
}
