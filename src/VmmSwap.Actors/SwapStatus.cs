using VmmSwap.Core;

namespace VmmSwap.Actors;

/// <summary>Pages and time of the last state transition (enable, trim, swap-out or disable).</summary>
/// <param name="Pages">Pages moved so far by the transition.</param>
/// <param name="TimeMs">Milliseconds the transition has taken so far.</param>
public sealed record StateTransition(long Pages, long TimeMs)
{
    /// <summary>No transition recorded.</summary>
    public static StateTransition Empty { get; } = new(0, 0);
}

/// <summary>The answer to Status, shaped as crosvm's <c>swap status</c> (see <see cref="StatusJson"/>).</summary>
/// <param name="State">The current state.</param>
/// <param name="Metrics">Page counts (all zero while disabled).</param>
/// <param name="StateTransition">The last transition.</param>
/// <param name="Failure">The cause of the last failure while in <see cref="SwapState.Failed"/> (its kind and message); null otherwise.</param>
/// <param name="HostMemory">Host memory and disk the swap holds; null while disabled, or when it could not be measured.</param>
public sealed record SwapStatus(SwapState State, SwapMetrics Metrics, StateTransition StateTransition, SwapFailure? Failure = null, HostMemoryUse? HostMemory = null)
{
    /// <summary>The failure's message, as crosvm's status JSON carries it; null unless Failed.</summary>
    public string? Error => Failure?.Message;
}
