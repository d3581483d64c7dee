namespace VmmSwap.Actors.Control;

/// <summary>The fixed numbers of the control protocol (docs/PROTOCOL.md), shared by the server and its clients.</summary>
public static class ControlProtocol
{
    /// <summary>The protocol version this build speaks; a hello naming another is refused.</summary>
    public const int Version = 1;

    /// <summary>The value of a hello's <c>hello</c> key, both ways.</summary>
    public const string Magic = "vmm-swap";

    /// <summary>The largest message, newline included, in bytes; a longer one is refused and the connection closed.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The guest a request without a <c>guest</c> key is for.</summary>
    public const string DefaultGuest = Hosting.VmmSwapGuests.DefaultId;

    /// <summary>How long a connection may send nothing before it is told so and closed, unless the host says otherwise.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The request names, as crosvm's vmm-swap commands are named.</summary>
    public static IReadOnlyList<string> Commands { get; } = ["enable", "trim", "swap_out", "disable", "prefetch", "status", "exit", "attach_process", "detach_process"];

    /// <summary>Descriptors a message may carry: one, the userfaultfd of <c>attach_process</c>; a receive takes at most <see cref="Native.Sockets.DescriptorPassing.MaxDescriptors"/>.</summary>
    public const int MaxDescriptorsPerMessage = 1;
}
