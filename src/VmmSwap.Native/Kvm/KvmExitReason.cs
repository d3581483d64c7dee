namespace VmmSwap.Native.Kvm;

/// <summary>Why KVM_RUN returned: <c>kvm_run.exit_reason</c> (the KVM_EXIT_* values of linux/kvm.h).</summary>
public enum KvmExitReason : uint
{
    /// <summary>KVM_EXIT_UNKNOWN; also what a failed KVM_RUN leaves, e.g. after EFAULT.</summary>
    Unknown = 0,

    /// <summary>KVM_EXIT_EXCEPTION.</summary>
    Exception = 1,

    /// <summary>KVM_EXIT_IO: a port access.</summary>
    Io = 2,

    /// <summary>KVM_EXIT_HYPERCALL.</summary>
    Hypercall = 3,

    /// <summary>KVM_EXIT_DEBUG.</summary>
    Debug = 4,

    /// <summary>KVM_EXIT_HLT.</summary>
    Hlt = 5,

    /// <summary>KVM_EXIT_MMIO: an access to a guest-physical address no memory slot covers; see <see cref="KvmMmioExit"/>.</summary>
    Mmio = 6,

    /// <summary>KVM_EXIT_IRQ_WINDOW_OPEN.</summary>
    IrqWindowOpen = 7,

    /// <summary>KVM_EXIT_SHUTDOWN: e.g. a triple fault.</summary>
    Shutdown = 8,

    /// <summary>KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (bad register state).</summary>
    FailEntry = 9,

    /// <summary>KVM_EXIT_INTR: a signal interrupted KVM_RUN (it failed with EINTR).</summary>
    Interrupted = 10,

    /// <summary>KVM_EXIT_INTERNAL_ERROR: KVM could not emulate or deliver something.</summary>
    InternalError = 17,

    /// <summary>KVM_EXIT_SYSTEM_EVENT: shutdown, reset or crash requested by the guest.</summary>
    SystemEvent = 24,
}
