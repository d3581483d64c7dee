using System.CommandLine;

namespace VmmSwap.Cli.Soak;

/// <summary>The hidden <c>soak-child</c> verb: the soak starts it as its second process; not for people.</summary>
public static class SoakChildCommand
{
    /// <summary>Builds the command; it reads its instructions from the process's stdin.</summary>
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var parent = new Option<int>("--parent") { Description = "Pid of the soak whose guest to map.", Required = true };
        var seed = new Option<int>("--seed") { Description = "The soak's seed.", Required = true };
        var regions = new Option<string[]>("--region")
        {
            Description = "A guest region as fd:hex-address:bytes, in guest order.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("soak-child", "The soak's second process.") { parent, seed, regions };
        command.Hidden = true;
        command.SetAction(result =>
        {
            var parsed = result.GetValue(regions)!.Select(SharedRegion.Parse).ToList();
            if (parsed.Contains(null))
            {
                stderr.WriteLine("vmm-swap soak-child: --region must be fd:hex-address:bytes");
                return Program.ExitBadInput;
            }

            return SoakChild.Run(result.GetValue(parent), [.. parsed.OfType<SharedRegion>()], result.GetValue(seed), Console.In, stdout, stderr);
        });
        return command;
    }
}
