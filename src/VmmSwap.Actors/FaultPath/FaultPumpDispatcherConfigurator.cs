using Akka.Configuration;
using Akka.Dispatch;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// The dispatcher named by <c>vmm-swap.fault-pump-dispatcher</c>: an Akka <see cref="Dispatcher"/>
/// whose executor is a <see cref="FaultPumpExecutor"/>. Referenced by type name from HOCON; its
/// <c>poll-max</c> (absent: no polling) is <c>vmm-swap.fault-poll-max</c>, set by <see cref="VmmSwapConfig.For"/>.
/// </summary>
public sealed class FaultPumpDispatcherConfigurator : MessageDispatcherConfigurator
{
    private readonly Dispatcher _dispatcher;

    /// <summary>Called by Akka with the dispatcher's config section.</summary>
    public FaultPumpDispatcherConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        ArgumentNullException.ThrowIfNull(config);
        _dispatcher = new Dispatcher(
            this,
            config.GetString("id", VmmSwapConfig.FaultPumpDispatcher),
            config.GetInt("throughput", 1),
            null,
            new Factory(config.GetTimeSpan("poll-max", TimeSpan.Zero)),
            config.GetTimeSpan("shutdown-timeout", TimeSpan.FromSeconds(1)));
    }

    /// <inheritdoc />
    public override MessageDispatcher Dispatcher() => _dispatcher;

    private sealed class Factory(TimeSpan pollMax) : ExecutorServiceFactory
    {
        public override ExecutorService Produce(string id) => new FaultPumpExecutor(id, pollMax);
    }
}
