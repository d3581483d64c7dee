namespace VmmSwap.Actors.Devices;

/// <summary>Where an <see cref="AttachedProcess"/> is in its life.</summary>
internal enum AttachmentState
{
    /// <summary>Handed to the page handler, which has not answered yet.</summary>
    Attaching,

    /// <summary>Registered (or checked, while disabled) and watched.</summary>
    Attached,

    /// <summary>Detach was asked (by request, its connection, or its exit); the page handler has not answered yet.</summary>
    Detaching,
}
