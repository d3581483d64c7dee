namespace VmmSwap.Cli.Demo;

/// <summary>Counts shared by the vCPUs of one run, read live for the progress display.</summary>
public sealed class GuestRunCounters
{
    private long _faults;
    private long _accesses;
    private long _writes;

    /// <summary>First touches since Enable (each one a fault).</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>Page reads.</summary>
    public long Accesses => Interlocked.Read(ref _accesses);

    /// <summary>Page writes.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Counts a faulting first touch.</summary>
    public void AddFault() => Interlocked.Increment(ref _faults);

    /// <summary>Counts an access.</summary>
    public void AddAccess() => Interlocked.Increment(ref _accesses);

    /// <summary>Counts a write.</summary>
    public void AddWrite() => Interlocked.Increment(ref _writes);
}
