using Akka.Actor;

namespace VmmSwap.Actors;

/// <summary>A routee of the move-to-staging pool: runs one batch (copies, then one hole punch) and answers.</summary>
internal sealed class MoveToStagingWorker : ReceiveActor
{
    public MoveToStagingWorker() =>
        Receive<ExecuteBatch>(m =>
        {
            try
            {
                m.Batch.Execute();
                Sender.Tell(new BatchDone(null));
            }
            catch (Exception e)
            {
                Sender.Tell(new BatchDone(e.Message));
            }
        });
}
