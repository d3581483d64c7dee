namespace VmmSwap.Guest.Host;

/// <summary>
/// How the guest host runs its guest.
/// </summary>
/// <param name="Seed">Seeds each vCPU's choice of writes (with its id): the same seed, the same writes.</param>
/// <param name="ProgressDeadline">
/// How long a vCPU may sit in KVM_RUN without visiting a page or reporting before the watchdog
/// calls it stalled and kicks it out. A served fault takes microseconds; the default leaves room
/// for a loaded machine.
/// </param>
public sealed record KvmGuestOptions(int Seed = 1, TimeSpan? ProgressDeadline = null)
{
    /// <summary>The deadline in effect: <see cref="ProgressDeadline"/> or 10 s.</summary>
    public TimeSpan Deadline => ProgressDeadline ?? TimeSpan.FromSeconds(10);
}
