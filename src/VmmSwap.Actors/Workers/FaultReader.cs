using Akka.Actor;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.Workers;

/// <summary>
/// A routee of the fault-reader pool: reads swap-file pages for parked faults, so the fault thread
/// never waits for the disk. Apart from the page workers, and at normal priority, because a vCPU
/// waits on every one of its reads while the page workers' chunks only make a job go faster.
/// </summary>
internal sealed class FaultReader : ReceiveActor
{
    public FaultReader(FaultReadGate? gate)
    {
        Receive<ReadForFault>(m =>
        {
            if (gate is not null && gate.Hold(Self, m, Sender))
            {
                return;
            }

            Exception? error = null;
            try
            {
                m.Read.Execute();
            }
            catch (Exception e)
            {
                error = e;
            }

            Sender.Tell(new FaultReadDone(m.Read, error));
            if (error is null)
            {
                m.Read.ReadAround();
            }
        });
    }

    /// <summary>Props of a reader; one given a <paramref name="gate"/> (tests only) waits for it before each read.</summary>
    public static Props Props(FaultReadGate? gate = null) => Akka.Actor.Props.Create(() => new FaultReader(gate)).WithDispatcher(VmmSwapConfig.FaultReaderDispatcher);
}
