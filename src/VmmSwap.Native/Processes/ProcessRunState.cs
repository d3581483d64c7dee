namespace VmmSwap.Native.Processes;

/// <summary>Whether a process runs, is stopped in every thread, or is gone, as /proc shows it.</summary>
public enum ProcessRunState
{
    /// <summary>At least one thread is not stopped.</summary>
    Running,

    /// <summary>Every thread is stopped (state T or t): none can touch memory until resumed.</summary>
    Stopped,

    /// <summary>The process has exited (no /proc entry, or a zombie).</summary>
    Gone,
}
