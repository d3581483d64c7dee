namespace VmmSwap.Actors;

/// <summary>The states of vmm-swap, named and meant as in crosvm.</summary>
public enum SwapState
{
    /// <summary>Disabled: the guest owns its memory; no userfaultfd registration.</summary>
    Ready,

    /// <summary>Enabled: guest pages sit in staging, waiting for swap-out (or trim).</summary>
    Pending,

    /// <summary>Trim is dropping zero and clean pages from staging.</summary>
    TrimInProgress,

    /// <summary>Staging is being written to the swap file.</summary>
    SwapOutInProgress,

    /// <summary>Swap-out finished: the guest's idle memory is in the swap file.</summary>
    Active,

    /// <summary>Disable is bringing every page back into the guest.</summary>
    SwapInInProgress,

    /// <summary>A job failed; the cause is logged and in the status. Enable or Disable recover.</summary>
    Failed,
}
