namespace VmmSwap.Actors.Jobs;

/// <summary>Stop a job after its chunk in flight; it then reports <see cref="JobCompleted"/> with Aborted set.</summary>
internal sealed record AbortJob
{
    internal static AbortJob Instance { get; } = new();
}

/// <summary>The <see cref="JobStartGate"/> the job waited for was released: it asks for its first chunk.</summary>
internal sealed record GateReleased
{
    internal static GateReleased Instance { get; } = new();
}

/// <summary>The result of a chunk: pages done, whether the job has nothing left, or the error that stopped it.</summary>
internal sealed record ChunkDone(JobKind Kind, long Pages, bool Finished, SwapFailure? Error);
