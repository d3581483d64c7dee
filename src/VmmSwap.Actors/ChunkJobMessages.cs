namespace VmmSwap.Actors;

/// <summary>Stop a job after its chunk in flight; it then reports <see cref="JobCompleted"/> with Aborted set.</summary>
internal sealed record AbortJob
{
    internal static AbortJob Instance { get; } = new();
}

/// <summary>Test seam: let jobs started paused run their chunks.</summary>
internal sealed record ResumeJobs
{
    internal static ResumeJobs Instance { get; } = new();
}
