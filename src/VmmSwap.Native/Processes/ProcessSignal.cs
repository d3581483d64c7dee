namespace VmmSwap.Native.Processes;

/// <summary>The signals the runtime sends to device processes (the same numbers on x86_64 and arm64, checked against signal.h).</summary>
public enum ProcessSignal
{
    /// <summary>SIGKILL: ends the process.</summary>
    Kill = 9,

    /// <summary>SIGCONT: resumes a stopped process.</summary>
    Continue = 18,

    /// <summary>SIGSTOP: stops every thread of the process; it cannot be caught or ignored.</summary>
    Stop = 19,
}
