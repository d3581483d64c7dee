using System.Runtime.InteropServices;
using VmmSwap.Cli.Common;

namespace VmmSwap.Cli.Tests.Support;

/// <summary>The outcome of running the command in-process.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    internal static async Task<CliRun> StartAsync(string args, CancellationToken interrupt = default)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        // The token stands for Ctrl-C.
        using var signals = new Interrupt();
        using var pressed = interrupt.Register(() => signals.Raise(PosixSignal.SIGINT));
        var exit = await Program.RunAsync(args.Split(' ', StringSplitOptions.RemoveEmptyEntries), stdout, stderr, signals);
        return new CliRun(exit, stdout.ToString(), stderr.ToString());
    }
}
