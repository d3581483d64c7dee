namespace VmmSwap.Cli.Soak;

/// <summary>
/// One command thread: sends a random sequence of Enable, Trim, SwapOut, Disable and Status, with
/// random gaps, so that commands from several threads meet each other and the jobs they start.
/// </summary>
public sealed class CommandDriver
{
    // Relative weights of Enable, Trim, SwapOut, Disable, Status: every command often, Status
    // least (it changes nothing), Disable not so often that jobs never get to run.
    private static readonly (CommandKind Kind, int Weight)[] Weights =
    [
        (CommandKind.Enable, 25),
        (CommandKind.Trim, 20),
        (CommandKind.SwapOut, 25),
        (CommandKind.Disable, 18),
        (CommandKind.Status, 12),
    ];

    // Up to this long between two commands of one thread: long enough for a job to get going,
    // short enough that the next command often lands in the middle of it.
    private const int MaxGapMs = 40;

    private readonly CommandSender _sender;
    private readonly Random _random;

    /// <summary>Command thread <paramref name="id"/> of a soak seeded with <paramref name="seed"/>, in <paramref name="cycle"/>.</summary>
    public CommandDriver(CommandSender sender, int seed, int cycle, int id)
    {
        _sender = sender ?? throw new ArgumentNullException(nameof(sender));
        _random = new Random(unchecked((seed * 1_000_003) + (cycle * 131) + id));
    }

    /// <summary>Sends <paramref name="count"/> random commands, one after the other, concurrently with the caller.</summary>
    public Task RunAsync(int count) => Task.Run(async () =>
    {
        for (var i = 0; i < count; i++)
        {
            await _sender.SendAsync(Pick()).ConfigureAwait(false);
            await Task.Delay(_random.Next(MaxGapMs)).ConfigureAwait(false);
        }
    });

    private CommandKind Pick()
    {
        var roll = _random.Next(Weights.Sum(w => w.Weight));
        var i = 0;
        while (roll >= Weights[i].Weight)
        {
            roll -= Weights[i].Weight;
            i++;
        }

        return Weights[i].Kind;
    }
}
