using Akka.Actor;
using VmmSwap.Actors.Jobs;
using VmmSwap.Actors.Workers;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// Starts a <see cref="SwapSupervisor"/> only once what it needs is known to be there, so a host
/// learns why vmm-swap cannot run from the call that starts it, before any actor exists.
/// </summary>
internal static class SupervisorStarter
{
    /// <summary>
    /// Checks the actor system's configuration, the swap directory
    /// (<see cref="SwapDirectoryUnusableException"/>) and userfaultfd access
    /// (<see cref="UserfaultfdUnavailableException"/>), then starts the supervisor of
    /// <paramref name="guest"/> as <paramref name="name"/>, owning the userfaultfd opened here, with
    /// the host's <paramref name="pause"/> for its Enables. Its jobs wait for <paramref name="jobGate"/>,
    /// and its fault reads for <paramref name="readGate"/>, when one is given (tests only).
    /// </summary>
    internal static IActorRef Start(ActorSystem system, GuestMemory guest, VmmSwapOptions options, string name, JobStartGate? jobGate = null, IGuestPause? pause = null, FaultReadGate? readGate = null)
    {
        // Without it the supervisor's children fail to start on their dispatcher, long after this call.
        if (!system.Settings.Config.HasPath($"{VmmSwapConfig.FaultPumpDispatcher}.type"))
        {
            throw new InvalidOperationException($"actor system '{system.Name}' has no vmm-swap configuration: create it with VmmSwapConfig.For(options), or add the runtime with WithVmmSwap");
        }

        SwapDirectoryProbe.Check(options.ResolvedSwapDirectory);
        var uffd = Userfaultfd.Create();
        try
        {
            var props = jobGate is null && readGate is null ? SwapSupervisor.Props(guest, uffd, options, pause) : SwapSupervisor.Props(guest, uffd, options, jobGate, pause, readGate);
            return system.ActorOf(props, name);
        }
        catch
        {
            uffd.Dispose();
            throw;
        }
    }
}
