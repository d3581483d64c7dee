using System.CommandLine;
using VmmSwap.Cli.Common;
using VmmSwap.Cli.Demo;

namespace VmmSwap.Cli;

/// <summary>
/// The <c>vmm-swap</c> command line: <c>demo</c> runs the whole swap life cycle on a simulated
/// guest, <c>bench</c> measures it, <c>soak</c> drives it hard and checks that nothing is lost;
/// <c>enable</c>, <c>trim</c>, <c>out</c>, <c>disable</c> and <c>status</c> drive a running host
/// through its control socket.
/// </summary>
public static class Program
{
    /// <summary>Exit code of a run whose guest memory came back intact.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code of a run that lost or corrupted guest memory, or whose runtime failed.</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit code of a command line that was refused before anything ran.</summary>
    public const int ExitBadInput = 2;

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command, writing to <paramref name="stdout"/> and
    /// <paramref name="stderr"/> instead of the process console so that tests can run it in-process.
    /// Raising <paramref name="interrupt"/> acts as Ctrl-C or SIGTERM: the demo stops its guest,
    /// swaps everything back in, verifies and reports, naming the signal.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Interrupt interrupt)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(interrupt);

        var root = new RootCommand("vmm-swap: swap a VM's guest memory out of RAM with userfaultfd and bring it back on demand.")
        {
            DemoCommand.Create(stdout, stderr, interrupt),
            Bench.BenchCommand.Create(stdout, stderr),
            Soak.SoakCommand.Create(stdout, stderr),
            Soak.SoakChildCommand.Create(stdout, stderr),
        };
        foreach (var verb in Control.ControlVerbs.Create(stdout, stderr))
        {
            root.Add(verb);
        }

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // System.CommandLine would print every error plus the whole help text; one line that
            // names the problem is easier to act on, and the help is one flag away.
            var command = parsed.CommandResult.Command == root ? "vmm-swap" : $"vmm-swap {parsed.CommandResult.Command.Name}";
            if (parsed.CommandResult.Command == root && args.Length > 0 && !args[0].StartsWith('-'))
            {
                // Without this the parser's first complaint is "Required command was not provided".
                var known = string.Join(", ", root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
                await stderr.WriteLineAsync($"vmm-swap: unknown command '{args[0]}'; the commands are {known} (see 'vmm-swap --help')").ConfigureAwait(false);
                return ExitBadInput;
            }

            await stderr.WriteLineAsync($"{command}: {parsed.Errors[0].Message} (see '{command} --help')").ConfigureAwait(false);
            return ExitBadInput;
        }

        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,

            // Ctrl-C and SIGTERM belong to the demo (swap everything back in first), not to the
            // parser, which would otherwise cancel the run and force an exit after a timeout.
            ProcessTerminationTimeout = null,
        };
        return await parsed.InvokeAsync(invocation, interrupt.Token).ConfigureAwait(false);
    }

    private static async Task<int> Main(string[] args)
    {
        using var interrupt = Interrupt.OnSignals();
        return await RunAsync(args, Console.Out, Console.Error, interrupt).ConfigureAwait(false);
    }
}
