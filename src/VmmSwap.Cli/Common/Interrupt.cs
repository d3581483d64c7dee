using System.Runtime.InteropServices;

namespace VmmSwap.Cli.Common;

/// <summary>
/// A request to stop a run early, and the signal that made it: the demo then skips its remaining
/// swap phases but still swaps every page back in, verifies and reports. Only the first signal is
/// taken; a second one is the user insisting, and gets the default termination.
/// </summary>
public sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _raised;

    /// <summary>An interrupt raised only by <see cref="Raise"/>, for callers that run the command in-process.</summary>
    public Interrupt()
    {
    }

    /// <summary>Cancelled once the interrupt is raised.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The signal that raised the interrupt; null while it has not been raised.</summary>
    public PosixSignal? Signal { get; private set; }

    /// <summary>
    /// An interrupt raised by the process's first SIGINT (Ctrl-C), SIGQUIT (Ctrl-\) or SIGTERM (a
    /// service manager, <c>kill</c>, a container stop), which the runtime then does not act on.
    /// </summary>
    public static Interrupt OnSignals()
    {
        var interrupt = new Interrupt();
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGTERM])
        {
            interrupt._registrations.Add(PosixSignalRegistration.Create(signal, context => context.Cancel = interrupt.Raise(context.Signal)));
        }

        return interrupt;
    }

    /// <summary>Raises the interrupt for <paramref name="signal"/>; false if it had already been raised.</summary>
    public bool Raise(PosixSignal signal)
    {
        if (Interlocked.Exchange(ref _raised, 1) == 1)
        {
            return false;
        }

        // Set before the cancellation that makes readers look at it.
        Signal = signal;
        _source.Cancel();
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _source.Dispose();
    }
}
