using System.Runtime.InteropServices;
using VmmSwap.Native.Events;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Rings;

/// <summary>
/// An io_uring for file reads that must not block their caller: <see cref="SubmitRead"/> hands the
/// kernel a pread and returns, and the ring's eventfd (<see cref="CompletionFd"/>) becomes
/// readable when a read has completed, for an epoll loop to <see cref="Reap"/> it. One thread
/// submits and reaps: the kernel finishes a buffered read that had to wait for the disk in the
/// submitting thread's context (task work), the next time that thread enters or leaves the kernel.
/// </summary>
/// <remarks>
/// The ring's memory is the kernel's and this object's, never guest memory. The buffers read into
/// are the caller's: a buffer must stay mapped until its read has completed.
/// </remarks>
public sealed unsafe class IoUring : IDisposable
{
    private readonly SafeFd _fd;
    private readonly EventFd _completions;
    private readonly MemoryMapping _rings;
    private readonly MemoryMapping _sqes;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint* _sqArray;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly IoUringAbi.Cqe* _cqes;

    private IoUring(SafeFd fd, in IoUringAbi.Params p)
    {
        _fd = fd;
        var page = (ulong)SystemPageSizes.PageSize;
        var sqBytes = p.SqOff.Array + (p.SqEntries * sizeof(uint));
        var cqBytes = p.CqOff.Cqes + (p.CqEntries * (ulong)sizeof(IoUringAbi.Cqe));
        try
        {
            // One mapping holds both rings (IORING_FEAT_SINGLE_MMAP, checked by Create).
            _rings = MemoryMapping.MapShared(fd, IoUringAbi.OffSqRing, RoundUp(Math.Max(sqBytes, cqBytes), page), writable: true);
            _sqes = MemoryMapping.MapShared(fd, IoUringAbi.OffSqes, RoundUp(p.SqEntries * (ulong)sizeof(IoUringAbi.Sqe), page), writable: true);
            _completions = new EventFd();
            var efd = _completions.Fd.Value;
            if (Libc.Syscall(IoUringAbi.SysRegister, fd.Value, IoUringAbi.RegisterEventFd, (long)&efd, 1) < 0)
            {
                throw NativeCallException.FromLastError("io_uring_register(IORING_REGISTER_EVENTFD)");
            }
        }
        catch
        {
            _completions?.Dispose();
            _sqes?.Dispose();
            _rings?.Dispose();
            throw;
        }

        var rings = (byte*)_rings.Address;
        _sqTail = (uint*)(rings + p.SqOff.Tail);
        _sqMask = *(uint*)(rings + p.SqOff.RingMask);
        _sqArray = (uint*)(rings + p.SqOff.Array);
        _cqHead = (uint*)(rings + p.CqOff.Head);
        _cqTail = (uint*)(rings + p.CqOff.Tail);
        _cqMask = *(uint*)(rings + p.CqOff.RingMask);
        _cqes = (IoUringAbi.Cqe*)(rings + p.CqOff.Cqes);
    }

    /// <summary>Readable (an eventfd) once a completion is waiting; read it to reset before <see cref="Reap"/>.</summary>
    public SafeFd CompletionFd => _completions.Fd;

    /// <summary>
    /// Sets up a ring of <paramref name="entries"/> submission entries (clamped by the kernel).
    /// Throws <see cref="NativeCallException"/> naming io_uring_setup when the kernel has no
    /// io_uring, or refuses it (EPERM: kernel.io_uring_disabled, or a seccomp filter), or lacks a
    /// feature this ring needs (Linux 5.11 or later has them all).
    /// </summary>
    public static IoUring Create(uint entries)
    {
        ArgumentOutOfRangeException.ThrowIfZero(entries);
        var p = new IoUringAbi.Params { Flags = IoUringAbi.SetupClamp };
        var fd = SafeFd.Check((int)Libc.Syscall(IoUringAbi.SysSetup, entries, (long)&p, 0), "io_uring_setup", $"{entries} entries");
        const uint Needed = IoUringAbi.FeatSingleMmap | IoUringAbi.FeatNoDrop | IoUringAbi.FeatExtArg;
        if ((p.Features & Needed) != Needed)
        {
            fd.Dispose();
            throw new NativeCallException("io_uring_setup", Libc.EOPNOTSUPP, $"the kernel's io_uring features are 0x{p.Features:X}; a single ring mapping, no dropped completions and timed waits (0x{Needed:X}) need Linux 5.11 or later");
        }

        try
        {
            return new IoUring(fd, p);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Submits a read of <paramref name="length"/> bytes of <paramref name="file"/> at
    /// <paramref name="offset"/> into <paramref name="buffer"/>, tagged <paramref name="userData"/>.
    /// The kernel takes its own reference to the file; <paramref name="buffer"/> must stay mapped
    /// until the read's completion is reaped. A read the kernel refuses at once completes with the
    /// error; one it could not take (no memory for it) throws here, and is not submitted.
    /// </summary>
    public void SubmitRead(SafeFd file, nint buffer, uint length, long offset, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var tail = *_sqTail;
            var index = tail & _sqMask;
            var sqe = (IoUringAbi.Sqe*)_sqes.Address + index;
            *sqe = default;
            sqe->Opcode = IoUringAbi.OpRead;
            sqe->Fd = file.Value;
            sqe->Off = (ulong)offset;
            sqe->Addr = (ulong)buffer;
            sqe->Len = length;
            sqe->UserData = userData;
            _sqArray[index] = index;

            // The kernel reads the tail only inside io_uring_enter, below: on failure the entry is
            // taken back by restoring it.
            Volatile.Write(ref *_sqTail, tail + 1);
            long submitted;
            do
            {
                submitted = Libc.Syscall(IoUringAbi.SysEnter, _fd.Value, 1, 0, 0, 0, 0);
            }
            while (submitted < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR);

            if (submitted != 1)
            {
                var errno = submitted < 0 ? Marshal.GetLastPInvokeError() : Libc.EAGAIN;
                Volatile.Write(ref *_sqTail, tail);
                throw new NativeCallException("io_uring_enter", errno, $"submitting a read of {length} bytes at {offset} of fd {file.Value}");
            }
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>Resets <see cref="CompletionFd"/>: call before <see cref="Reap"/>, so a completion after it signals again.</summary>
    public void ClearCompletionSignal() => _completions.Reset();

    /// <summary>Copies completions waiting in the ring into <paramref name="into"/>, oldest first; returns how many.</summary>
    public int Reap(Span<IoUringCompletion> into)
    {
        var head = *_cqHead;
        var tail = Volatile.Read(ref *_cqTail);
        var n = 0;
        while (head != tail && n < into.Length)
        {
            var cqe = _cqes + (head & _cqMask);
            into[n++] = new IoUringCompletion(cqe->UserData, cqe->Res);
            head++;
        }

        Volatile.Write(ref *_cqHead, head);
        return n;
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for a completion (and runs the kernel's pending work
    /// for this thread's reads, which completes them); true when one is waiting to be reaped.
    /// </summary>
    public bool WaitForCompletion(TimeSpan timeout)
    {
        var ts = new IoUringAbi.KernelTimespec
        {
            Seconds = (long)timeout.TotalSeconds,
            Nanoseconds = (timeout.Ticks % TimeSpan.TicksPerSecond) * 100,
        };
        var arg = new IoUringAbi.GetEventsArg { Ts = (ulong)&ts };
        var r = Libc.Syscall(IoUringAbi.SysEnter, _fd.Value, 0, 1, IoUringAbi.EnterGetEvents | IoUringAbi.EnterExtArg, (long)&arg, sizeof(IoUringAbi.GetEventsArg));
        if (r < 0 && Marshal.GetLastPInvokeError() is not (IoUringAbi.ETIME or Libc.EINTR))
        {
            throw NativeCallException.FromLastError("io_uring_enter(IORING_ENTER_GETEVENTS)");
        }

        return *_cqHead != Volatile.Read(ref *_cqTail);
    }

    /// <summary>Closes the ring. Reads still in flight are the caller's to wait for first: their buffers must outlive them.</summary>
    public void Dispose()
    {
        _sqes.Dispose();
        _rings.Dispose();
        _fd.Dispose();
        _completions.Dispose();
    }

    private static ulong RoundUp(ulong bytes, ulong page) => (bytes + page - 1) / page * page;
}
