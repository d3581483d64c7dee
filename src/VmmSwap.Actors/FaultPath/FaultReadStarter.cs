using Akka.Actor;
using VmmSwap.Actors.Workers;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// Where the PageHandler's fault reads run: on the fault thread's io_uring (<see cref="FaultReadRing"/>)
/// when the runtime has one and it has room, whose completions come back as <see cref="FaultReadsCompleted"/>;
/// else on the fault-reader pool, whose results come back as <see cref="FaultReadDone"/>. The read-around
/// of a ring read goes to a fault reader, off the fault thread (docs/ARCHITECTURE.md, "A file fault
/// that needs the disk").
/// </summary>
internal sealed class FaultReadStarter(FaultReadRing? ring, IActorRef readers, FaultReadGate? gate)
{
    /// <summary>Starts <paramref name="read"/>, or holds it for a test's gate; a read the ring refuses comes back to <paramref name="pageHandler"/> as failed.</summary>
    internal void Start(FaultRead read, IActorRef pageHandler)
    {
        if (ring is null || !ring.HasRoom)
        {
            readers.Tell(new ReadForFault(read), pageHandler);
        }
        else if (gate is null || !gate.Hold(read, onRing: true, () => pageHandler.Tell(new StartHeldRead(read))))
        {
            StartOnRing(read, pageHandler);
        }
    }

    /// <summary>Starts a read the gate held; on the ring, where only held reads come from.</summary>
    internal void StartHeld(FaultRead read, IActorRef pageHandler)
    {
        if (ring is not null)
        {
            StartOnRing(read, pageHandler);
        }
    }

    /// <summary>The ring's completed reads (none without a ring), whose faults the PageHandler serves again.</summary>
    internal IReadOnlyList<FaultReadCompletion> Reap() => ring?.Reap() ?? [];

    /// <summary>Starts the read-around of a ring read whose faults are answered, on a fault reader.</summary>
    internal void ReadAround(FaultRead read) => readers.Tell(new ReadAroundFor(read));

    private void StartOnRing(FaultRead read, IActorRef pageHandler)
    {
        try
        {
            // False: the page state closed first and handed its faults back.
            ring!.Start(read);
        }
        catch (Exception error)
        {
            pageHandler.Tell(new FaultReadDone(read, error));
        }
    }
}
