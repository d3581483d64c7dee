using Akka.Hosting;

namespace VmmSwap.Actors.Control;

/// <summary>Opens the control socket of a vmm-swap host built with Akka.Hosting.</summary>
public static class ControlSocketHostingExtensions
{
    /// <summary>
    /// Opens a <see cref="ControlSocket"/> at <paramref name="path"/> when the actor system starts,
    /// after the guests added before this call (call it after <c>WithVmmSwap</c>); it is closed
    /// and its file removed when the host stops, before the guests exit. A path that cannot be
    /// bound fails the host's start.
    /// </summary>
    public static AkkaConfigurationBuilder WithVmmSwapControlSocket(this AkkaConfigurationBuilder builder, string path, TimeSpan? idleTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return builder.WithActors((system, _) => ControlSocket.Start(system, path, idleTimeout));
    }
}
