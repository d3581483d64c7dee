using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using VmmSwap.Actors.Control;

namespace VmmSwap.Cli.Control;

/// <summary>
/// <c>vmm-swap enable|trim|out|disable|status SOCKET</c>: crosvm's <c>crosvm swap</c> verbs, the
/// socket last, sent to a host's control socket (docs/PROTOCOL.md).
/// </summary>
public static class ControlVerbs
{
    /// <summary>Exit code of a command the runtime accepted (or of a status that was read).</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code of a command that failed in the runtime, or whose runtime has stopped.</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit code of a command line that was refused, or of a guest id the host does not have.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Exit code of a command not valid in the guest's current state: nothing changed.</summary>
    public const int ExitNotValidInState = 3;

    /// <summary>Exit code when the socket could not be reached or did not speak the protocol.</summary>
    public const int ExitUnreachable = 4;

    private const string ExitCodes = "Exit codes: 0 done (or accepted and under way), 1 failed in the runtime or the runtime has stopped, 2 bad command line or unknown guest, 3 not valid in the current state (nothing changed; the reason is printed), 4 the socket could not be reached or did not speak the protocol.";

    /// <summary>The verbs, each a command of its own.</summary>
    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr)
    {
        yield return Verb("enable", "enable", "Move every resident guest page to staging (pause the guest meanwhile); returns when staging is complete.", stdout, stderr);
        yield return Verb("trim", "trim", "Start dropping zero pages and pages unchanged since their last write to the swap file.", stdout, stderr);
        yield return Verb("out", "swap_out", "Start writing staging to the swap file.", stdout, stderr);
        yield return Verb("disable", "disable", "Start bringing every page back and stop handling faults.", stdout, stderr);
        yield return Verb("prefetch", "prefetch", "Start bringing the working set (the pages the guest faulted lately) back while swap stays enabled, ahead of the guest waking.", stdout, stderr);
        yield return Verb("status", "status", "Print the status as crosvm's JSON, on one line.", stdout, stderr);
    }

    private static Command Verb(string name, string request, string description, TextWriter stdout, TextWriter stderr)
    {
        var socket = new Argument<string>("SOCKET") { Description = "The host's control socket." };
        var guest = new Option<string>("--guest")
        {
            Description = "The guest's id in the host.",
            HelpName = "ID",
            DefaultValueFactory = _ => ControlProtocol.DefaultGuest,
        };
        var command = new Command(name, $"{description} {ExitCodes}") { socket, guest };
        Option<bool>? pretty = null;
        if (request == "status")
        {
            pretty = new Option<bool>("--pretty") { Description = "Indent the JSON for people." };
            command.Add(pretty);
        }

        command.SetAction((result, cancellationToken) => RunAsync(
            name, request, result.GetValue(socket)!, result.GetValue(guest)!, pretty is not null && result.GetValue(pretty), stdout, stderr, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string verb, string request, string socket, string guest, bool pretty, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        JsonObject reply;
        try
        {
            using var client = await ControlClient.ConnectAsync(socket, cancellationToken).ConfigureAwait(false);
            reply = await client.RequestAsync(request, guest, cancellationToken).ConfigureAwait(false);
        }
        catch (ControlUnreachableException e)
        {
            await stderr.WriteLineAsync($"vmm-swap {verb}: {e.Message}").ConfigureAwait(false);
            return ExitUnreachable;
        }

        if (reply["error"] is JsonObject error)
        {
            var code = (string?)error["code"];
            var state = (string?)reply["status"]?["state"];
            await stderr.WriteLineAsync($"vmm-swap {verb}: {(code == ControlErrorCode.NotValidInState && state is not null ? $"not valid in state {state}: " : string.Empty)}{error["message"]} ({code})").ConfigureAwait(false);
            return code switch
            {
                ControlErrorCode.NotValidInState => ExitNotValidInState,
                ControlErrorCode.UnknownGuest => ExitBadInput,
                ControlErrorCode.Failed or ControlErrorCode.RuntimeStopped or ControlErrorCode.Internal => ExitFailed,
                _ => ExitUnreachable,
            };
        }

        if (request == "status")
        {
            await stdout.WriteLineAsync(reply["status"]!.ToJsonString(new JsonSerializerOptions { WriteIndented = pretty })).ConfigureAwait(false);
        }

        return ExitOk;
    }
}
