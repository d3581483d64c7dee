using Akka.Actor;
using VmmSwap.Actors.FaultPath;
using VmmSwap.Actors.Hosting;

namespace VmmSwap.Actors.Workers;

/// <summary>
/// A routee of the fault-reader pool: reads swap-file pages for parked faults, so the fault thread
/// never waits for the disk, and starts each read's read-around (also of those the fault thread
/// ran on its io_uring: <c>POSIX_FADV_WILLNEED</c> blocks until the whole block is submitted).
/// Apart from the page workers, and at normal priority, because a vCPU waits on every one of its
/// reads while the page workers' chunks only make a job go faster.
/// </summary>
internal sealed class FaultReader : ReceiveActor
{
    public FaultReader(FaultReadGate? gate)
    {
        Receive<ReadForFault>(m =>
        {
            var (self, sender) = (Self, Sender);
            if (gate is not null && gate.Hold(m.Read, onRing: false, () => self.Tell(m, sender)))
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

        // A read the PageHandler ran on its io_uring: only its read-around comes here.
        Receive<ReadAroundFor>(m => m.Read.ReadAround());
    }

    /// <summary>Props of a reader; one given a <paramref name="gate"/> (tests only) waits for it before each read.</summary>
    public static Props Props(FaultReadGate? gate = null) => Akka.Actor.Props.Create(() => new FaultReader(gate)).WithDispatcher(VmmSwapConfig.FaultReaderDispatcher);
}
