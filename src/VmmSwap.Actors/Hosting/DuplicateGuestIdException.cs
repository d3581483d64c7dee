namespace VmmSwap.Actors.Hosting;

/// <summary>A guest was added under an id that already names a guest of the same actor system.</summary>
public sealed class DuplicateGuestIdException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="id"/>.</summary>
    public DuplicateGuestIdException(string id)
        : base($"vmm-swap guest '{id}' already exists in this actor system: remove it first, or add the guest under another id") => Id = id;

    /// <summary>The id already in use.</summary>
    public string Id { get; }
}
