using Akka.Configuration;

namespace VmmSwap.Actors.Hosting;

/// <summary>The built-in HOCON (hocon/vmm-swap.hocon, embedded) and the dispatcher and mailbox ids it defines.</summary>
public static class VmmSwapConfig
{
    /// <summary>Dispatcher of the PageHandler actor and the FaultPump: one thread, in epoll over every userfaultfd.</summary>
    public const string FaultPumpDispatcher = "vmm-swap.fault-pump-dispatcher";

    /// <summary>Priority mailbox of the PageHandler actor.</summary>
    public const string PageHandlerMailbox = "vmm-swap.page-handler-mailbox";

    /// <summary>Dispatcher of the page workers.</summary>
    public const string PageWorkerDispatcher = "vmm-swap.page-worker-dispatcher";

    /// <summary>Dispatcher of the fault readers: swap-file reads for parked faults, at normal priority.</summary>
    public const string FaultReaderDispatcher = "vmm-swap.fault-reader-dispatcher";

    private static readonly Lazy<Config> Embedded = new(Load);

    /// <summary>
    /// The defaults, as shipped in hocon/vmm-swap.hocon: the one place each option's default is
    /// written. An actor system needs <see cref="For"/>, which adds what depends on the machine.
    /// </summary>
    public static Config Default => Embedded.Value;

    /// <summary>
    /// The configuration of an actor system running vmm-swap with <paramref name="options"/>: their
    /// <c>vmm-swap</c> section (so <see cref="VmmSwapOptions.FromConfig"/> of it gives them back),
    /// the page-worker and fault-reader dispatchers sized for them, the fault pump's poll window, and coordinated shutdown's
    /// <c>before-actor-system-terminate</c> phase given their
    /// <see cref="VmmSwapOptions.ShutdownTimeout"/> (vmm-swap exits in that phase), over
    /// <see cref="Default"/>.
    /// </summary>
    public static Config For(VmmSwapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validated();
        return ConfigurationFactory.ParseString(
            $"""
            {options.ToHocon()}
            {PageWorkerDispatcher}.dedicated-thread-pool.thread-count = {options.ResolvedPageWorkerCount}
            {FaultReaderDispatcher}.dedicated-thread-pool.thread-count = {options.FaultReaders}
            {FaultPumpDispatcher}.poll-max = {HoconText.Duration(options.FaultPollMax)}
            akka.coordinated-shutdown.phases.{ExitOnShutdown.Phase}.timeout = {HoconText.Duration(options.ShutdownTimeout)}
            """)
            .WithFallback(Default);
    }

    private static Config Load()
    {
        using var stream = typeof(VmmSwapConfig).Assembly.GetManifestResourceStream("vmm-swap.hocon")
            ?? throw new InvalidOperationException("the embedded vmm-swap.hocon is missing from VmmSwap.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}
