namespace VmmSwap.Actors.Hosting;

/// <summary>No guest of the actor system has the id asked for (never added, or removed).</summary>
public sealed class UnknownGuestIdException : KeyNotFoundException
{
    /// <summary>Creates the exception for <paramref name="id"/>, listing the ids there are.</summary>
    public UnknownGuestIdException(string id, IReadOnlyCollection<string> ids)
        : base($"no vmm-swap guest '{id}' in this actor system (guests: {(ids is { Count: > 0 } ? string.Join(", ", ids) : "none")})") => Id = id;

    /// <summary>The id asked for.</summary>
    public string Id { get; }
}
