using Akka.Event;
using VmmSwap.Core.Work;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// The PageHandler actor's side of fault reads: a read done for parked faults comes back here (from
/// a fault reader, or reaped from the fault thread's io_uring), and before the page state goes
/// every read is ended (docs/ARCHITECTURE.md, "A file fault that needs the disk").
/// </summary>
internal sealed partial class PageHandlerActor
{
    // From a fault reader: the read, and its read-around after it, ran there.
    private void Handle(FaultReadDone m) => ReadDone(m.Read, m.Error);

    // From the fault thread's io_uring: its read-around still has to start, off this thread.
    private void ReapFaultReads()
    {
        foreach (var (read, error) in _reads.Reap())
        {
            ReadDone(read, error);
            if (error is null)
            {
                _reads.ReadAround(read);
            }
        }
    }

    // The faults parked on a read are served again from the page state as it is now: the read's
    // pages may have been staged, removed or swapped in while it ran. After a failed read they
    // read the page here, so the disk's error, if it stays, fails the fault that needs it.
    private void ReadDone(FaultRead read, Exception? error)
    {
        if (_handler is null)
        {
            // Its page state is gone; closing it handed back the faults parked on this read.
            return;
        }

        if (error is not null)
        {
            _log.Warning("reading swap-file pages {0} for a fault failed ({1}); its faults read them on the fault thread", read.Window, error.Message);
        }

        foreach (var fault in _handler.CompleteFaultRead(read, error is null))
        {
            ServeFault(fault.Uffd, fault.Address, error is null ? _faultReadPages : 0, fault.ParkedAt);
        }

        RetryDeferred();
        ScheduleFlush();
    }

    // Before the page state goes: reads under way end (cancelled, or waited for), and the faults
    // parked on them are served here, without a read. False when a read would not end: its buffer
    // and the swap file it reads must then stay.
    private bool CloseFaultReads()
    {
        if (_handler is null)
        {
            return true;
        }

        var (parked, safe) = _handler.CloseFaultReads(TimeSpan.FromSeconds(30));
        if (!safe)
        {
            _log.Error("a fault read is still running after 30 s; the page state is left open");
        }

        foreach (var fault in parked)
        {
            ServeFault(fault.Uffd, fault.Address, 0, fault.ParkedAt);
        }

        return safe;
    }
}
