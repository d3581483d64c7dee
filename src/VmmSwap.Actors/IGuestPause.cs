namespace VmmSwap.Actors;

/// <summary>
/// The host's vCPUs as an Enable needs them: paused while the runtime moves guest memory to
/// staging, since a guest write that lands between a page's copy and the hole punched behind it
/// is lost. crosvm's VMM suspends its vCPUs for <c>swap enable</c> the same way. Given to
/// <see cref="Hosting.SwapController.Start"/> or <see cref="Hosting.VmmSwapGuests.Add"/>, it is
/// used for every Enable, whoever sends it (the host, or a client of the control socket); without
/// one, the host must pause its guest around each Enable itself.
/// </summary>
public interface IGuestPause
{
    /// <summary>
    /// Pauses every vCPU and whatever else of the host writes guest memory; completes once none
    /// runs. A fault or a timeout (30 s) refuses the Enable, with nothing moved, and
    /// <see cref="Resume"/> is called.
    /// </summary>
    Task PauseAsync(CancellationToken cancellationToken);

    /// <summary>Lets the guest run again: after the move, whether it succeeded or failed, and when the runtime stops while paused.</summary>
    void Resume();
}
