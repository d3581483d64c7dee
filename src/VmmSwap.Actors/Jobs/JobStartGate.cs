using Akka.Actor;

namespace VmmSwap.Actors.Jobs;

/// <summary>
/// Holds every job of a supervisor before its first chunk until <see cref="Release"/>, so a test
/// can observe and command a job's InProgress state. Given only through the internal
/// <see cref="SwapSupervisor"/> props; nothing in the runtime's protocol knows of it.
/// </summary>
internal sealed class JobStartGate
{
    private readonly Lock _lock = new();
    private readonly List<IActorRef> _held = [];

    /// <summary>Holds <paramref name="job"/>, started held; the supervisor calls it before it replies to the command that started the job.</summary>
    internal void Hold(IActorRef job)
    {
        lock (_lock)
        {
            _held.Add(job);
        }
    }

    /// <summary>
    /// Lets every job held now go; jobs started later wait for the next release. Told from the
    /// caller's thread, so a command the caller sends after this reaches a job after its release.
    /// </summary>
    internal void Release()
    {
        IActorRef[] released;
        lock (_lock)
        {
            released = [.. _held];
            _held.Clear();
        }

        foreach (var job in released)
        {
            job.Tell(GateReleased.Instance);
        }
    }
}
