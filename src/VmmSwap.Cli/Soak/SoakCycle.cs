using VmmSwap.Actors;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// One cycle: the faults scheduled for it, random commands from every command thread at once with
/// second processes attached and detached meanwhile, then Disable until the runtime is Ready, then
/// a check of every page. The guest threads run throughout, paused only for each Enable.
/// </summary>
public sealed class SoakCycle
{
    // Every this many cycles, cycle 2 of the period fills the swap dir and cycle 3 kills a child in a fault.
    private const int FaultPeriod = 5;

    // Commands per command thread per cycle.
    private const int MinCommands = 4;
    private const int MaxCommands = 12;

    // Second processes attached per cycle at random moments, besides the one a kill fault needs.
    private const int MaxAttaches = 2;

    // Disables before a runtime that keeps failing its swap-in is reported as not coming back.
    private const int DisableAttempts = 3;

    // How long the child is watched for a fault to be killed in; it faults for a whole pass over
    // its pages after an Enable or a swap-out, which takes milliseconds.
    private static readonly TimeSpan FaultWatch = TimeSpan.FromSeconds(5);

    private readonly SoakOptions _options;
    private readonly CommandSender _sender;
    private readonly SecondProcessAttachment _second;
    private readonly SoakSwapDir _swapDir;
    private readonly IReadOnlyList<SoakVcpu> _vcpus;
    private readonly PageChecker _checker;
    private readonly long[] _readOnlyPages;
    private readonly SoakCounters _counters;

    /// <summary>Cycles over the given parts of one soak.</summary>
    public SoakCycle(SoakOptions options, CommandSender sender, SecondProcessAttachment second, SoakSwapDir swapDir, IReadOnlyList<SoakVcpu> vcpus, PageChecker checker, long[] readOnlyPages, SoakCounters counters)
    {
        _options = options;
        _sender = sender;
        _second = second;
        _swapDir = swapDir;
        _vcpus = vcpus;
        _checker = checker;
        _readOnlyPages = readOnlyPages;
        _counters = counters;
    }

    /// <summary>True when cycle <paramref name="cycle"/> fills the swap dir.</summary>
    public static bool FillsSwapDir(int cycle) => cycle % FaultPeriod == 2;

    /// <summary>True when cycle <paramref name="cycle"/> kills a second process in a fault.</summary>
    public static bool KillsChild(int cycle) => cycle % FaultPeriod == 3;

    /// <summary>Runs cycle <paramref name="cycle"/>; it starts and ends in Ready.</summary>
    public async Task RunAsync(int cycle)
    {
        var losses = _counters.LossEvents;
        var hangs = _counters.Hangs.Count;
        var random = new Random(unchecked((_options.Seed * 65_537) + cycle));
        var injected = new List<FaultKind>();
        if (FillsSwapDir(cycle) && _swapDir.CanFill)
        {
            injected.Add(FaultKind.SwapDirFull);
            await FillSwapDirAsync().ConfigureAwait(false);
        }

        if (KillsChild(cycle) && await KillChildInAFaultAsync().ConfigureAwait(false))
        {
            injected.Add(FaultKind.ChildKilledWhileFaulting);
        }

        await RandomCommandsAsync(cycle, random).ConfigureAwait(false);
        await _second.DetachAsync(kill: random.Next(2) == 0).ConfigureAwait(false);
        var ready = await DisableAsync().ConfigureAwait(false);
        await CheckEveryPageAsync().ConfigureAwait(false);
        if (ready && _counters.LossEvents == losses && _counters.Hangs.Count == hangs)
        {
            injected.ForEach(_counters.Survived);
        }
    }

    // From Ready: Enable, then a swap-out into a swap dir with room for a sixteenth of the guest.
    // With a quarter the swap-out fitted on a loaded host 2 times in 3 and the fault did not bite
    // (most likely the guest threads had faulted enough pages back from staging before it ran).
    private async Task FillSwapDirAsync()
    {
        _counters.Injected(FaultKind.SwapDirFull);
        using (_swapDir.Fill(_options.GuestBytes / 16))
        {
            await _sender.SendAsync(CommandKind.Enable).ConfigureAwait(false);
            var status = await _sender.SendAsync(CommandKind.SwapOut).ConfigureAwait(false);
            if (status?.State == SwapState.SwapOutInProgress)
            {
                status = await _sender.WaitForAsync(SwapState.Active, SoakDeadlines.SwapIn(_options.GuestBytes)).ConfigureAwait(false);
            }

            if (status is { State: SwapState.Failed, Error: { } error } && error.Contains("ENOSPC", StringComparison.Ordinal))
            {
                _counters.TookEffect(FaultKind.SwapDirFull);
            }
        }
    }

    // From Ready: attach a child (accepted while disabled), Enable so that its next pass faults
    // every page, and SIGKILL it when its reader is seen waiting in a fault; failing that, again
    // after a swap-out, whose faults read the swap file and take longer. False when no child
    // could be attached (the attach reports why): then nothing was injected.
    private async Task<bool> KillChildInAFaultAsync()
    {
        if (!await _second.AttachAsync().ConfigureAwait(false) || _second.Current is not { } child)
        {
            return false;
        }

        _counters.Injected(FaultKind.ChildKilledWhileFaulting);
        await _sender.SendAsync(CommandKind.Enable).ConfigureAwait(false);
        var killed = await Task.Run(() => child.KillWhenFaulting(FaultWatch)).ConfigureAwait(false);
        if (!killed && (await _sender.SendAsync(CommandKind.SwapOut).ConfigureAwait(false))?.State == SwapState.SwapOutInProgress)
        {
            await _sender.WaitForAsync(SwapState.Active, SoakDeadlines.SwapIn(_options.GuestBytes)).ConfigureAwait(false);
            killed = await Task.Run(() => child.KillWhenFaulting(FaultWatch)).ConfigureAwait(false);
        }

        await _second.DetachAsync(kill: true).ConfigureAwait(false);
        if (killed)
        {
            _counters.TookEffect(FaultKind.ChildKilledWhileFaulting);
        }

        return true;
    }

    private async Task RandomCommandsAsync(int cycle, Random random)
    {
        var drivers = Task.WhenAll(Enumerable.Range(0, _options.CommandThreads)
            .Select(i => new CommandDriver(_sender, _options.Seed, cycle, i).RunAsync(random.Next(MinCommands, MaxCommands + 1))));

        // Attach and detach meanwhile, at random moments, so that ProcessForked meets every state.
        for (var attaches = 0; !drivers.IsCompleted;)
        {
            await Task.WhenAny(drivers, Task.Delay(random.Next(20, 200))).ConfigureAwait(false);
            if (drivers.IsCompleted)
            {
                break;
            }

            if (_second.Current is not null)
            {
                await _second.DetachAsync(kill: random.Next(2) == 0).ConfigureAwait(false);
            }
            else if (attaches++ < MaxAttaches)
            {
                await _second.AttachAsync().ConfigureAwait(false);
            }
        }

        await drivers.ConfigureAwait(false);
    }

    // A cycle ends when a Disable has brought the runtime back to Ready.
    private async Task<bool> DisableAsync()
    {
        SwapStatus? status = null;
        for (var attempt = 0; attempt < DisableAttempts; attempt++)
        {
            status = await _sender.SendAsync(CommandKind.Disable).ConfigureAwait(false);
            if (status is { State: not SwapState.Ready })
            {
                status = await _sender.WaitForAsync(SwapState.Ready, SoakDeadlines.SwapIn(_options.GuestBytes)).ConfigureAwait(false);
            }

            if (status is null || status.State == SwapState.Ready)
            {
                return status is not null;
            }
        }

        _counters.Error(SoakErrorKind.NotReady, $"vmm-swap did not come back to Ready after {DisableAttempts} Disables: it is {status?.State} ({status?.Error})");
        return false;
    }

    private async Task CheckEveryPageAsync()
    {
        var checks = _vcpus.Select(v => v.SweepAsync()).Append(Task.Run(() =>
        {
            foreach (var page in _readOnlyPages)
            {
                _checker.Check(page, CheckedBy.CycleCheck);
            }
        }));
        try
        {
            await Task.WhenAll(checks).WaitAsync(SoakDeadlines.Deadline).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _counters.Hang(HangKind.CycleCheck, "the check of every page did not finish", SoakDeadlines.Deadline);
        }
    }
}
