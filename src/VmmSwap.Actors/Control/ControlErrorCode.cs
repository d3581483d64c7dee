namespace VmmSwap.Actors.Control;

/// <summary>The <c>error.code</c> values of the control protocol's error replies (docs/PROTOCOL.md, "Errors").</summary>
public static class ControlErrorCode
{
    /// <summary>The command is not valid in the guest's current state; nothing changed. The connection stays open.</summary>
    public const string NotValidInState = "not_valid_in_state";

    /// <summary>The command was refused or failed; the message says why. The connection stays open.</summary>
    public const string Failed = "failed";

    /// <summary>The guest's runtime has stopped (after an exit). The connection stays open.</summary>
    public const string RuntimeStopped = "runtime_stopped";

    /// <summary>The request's <c>command</c> is not one of <see cref="ControlProtocol.Commands"/>. The connection stays open.</summary>
    public const string UnknownCommand = "unknown_command";

    /// <summary>No guest has the request's <c>guest</c> id. The connection stays open.</summary>
    public const string UnknownGuest = "unknown_guest";

    /// <summary>The message is not UTF-8 JSON, has a string that is not valid Unicode or a key twice in an object, is not an object, or a key has the wrong type or range. The connection stays open.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>The first message was not a hello. The connection is closed.</summary>
    public const string HandshakeRequired = "handshake_required";

    /// <summary>The hello named a protocol version this server does not speak. The connection is closed.</summary>
    public const string VersionMismatch = "version_mismatch";

    /// <summary>A message grew past <see cref="ControlProtocol.MaxMessageBytes"/> without its newline. The connection is closed.</summary>
    public const string TooLarge = "too_large";

    /// <summary>The peer closed its side in the middle of a message. The connection is closed.</summary>
    public const string Truncated = "truncated";

    /// <summary>The connection sent nothing for the idle timeout. The connection is closed.</summary>
    public const string IdleTimeout = "idle_timeout";

    /// <summary>The peer is neither root nor the host's own user. The connection is closed.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>
    /// The request came with descriptors it does not take (any but <c>attach_process</c>), or
    /// <c>attach_process</c> with other than exactly one; all were closed. The connection stays open.
    /// </summary>
    public const string BadDescriptors = "bad_descriptors";

    /// <summary>The descriptor of <c>attach_process</c> is not a userfaultfd handshaken with the features needed; it was closed. The connection stays open.</summary>
    public const string NotAUserfaultfd = "not_a_userfaultfd";

    /// <summary>The server could not handle the request (a bug); the message says what it met. The connection stays open.</summary>
    public const string Internal = "internal";
}
