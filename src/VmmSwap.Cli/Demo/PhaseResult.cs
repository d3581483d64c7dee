using VmmSwap.Actors;

namespace VmmSwap.Cli.Demo;

/// <summary>One phase of the demo as measured.</summary>
/// <param name="Name">The phase: fill, enable, guest-run, trim, swap-out, guest-idle, disable or verify.</param>
/// <param name="Pages">Pages the phase moved (written, staged, faulted, trimmed, swapped or checked).</param>
/// <param name="Milliseconds">
/// How long the phase took: for enable, trim, swap-out and disable the runtime's own
/// <c>state_transition.time_ms</c>; for the others the demo's wall clock.
/// </param>
/// <param name="MbPerSecond">Pages moved per second in MB (10^6 bytes); null where the phase is time-bound (a guest run).</param>
/// <param name="Status">The runtime's status right after the phase.</param>
public sealed record PhaseResult(string Name, long Pages, double Milliseconds, double? MbPerSecond, SwapStatus? Status);
