using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Processes;

/// <summary>
/// A pidfd (pidfd_open(2)): a handle on one process that, unlike its pid, can never name another
/// process once this one is gone. Used to take a copy of one of the process's descriptors with
/// pidfd_getfd(2), e.g. the userfaultfd a forked child created for its own address space.
/// </summary>
public sealed class Pidfd : IDisposable
{
    private Pidfd(SafeFd fd, int pid)
    {
        Fd = fd;
        Pid = pid;
    }

    /// <summary>The pidfd itself.</summary>
    public SafeFd Fd { get; }

    /// <summary>The pid the pidfd was opened for.</summary>
    public int Pid { get; }

    /// <summary>Opens a pidfd for process <paramref name="pid"/> (Linux 5.3+); ESRCH when there is no such process.</summary>
    public static Pidfd Open(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        var fd = Libc.Syscall(Libc.SYS_pidfd_open, pid, 0, 0);
        return fd < 0
            ? throw NativeCallException.FromLastError("pidfd_open", $"pid {pid}")
            : new Pidfd(new SafeFd((int)fd), pid);
    }

    /// <summary>
    /// Takes a copy of descriptor <paramref name="targetFd"/> of the process (Linux 5.6+), close-on-exec.
    /// Needs ptrace access to it (root, or CAP_SYS_PTRACE, or a child under a permissive Yama policy).
    /// </summary>
    public SafeFd GetFd(int targetFd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(targetFd);
        var fd = Libc.Syscall(Libc.SYS_pidfd_getfd, Fd.Value, targetFd, 0);
        if (fd >= 0)
        {
            return new SafeFd((int)fd);
        }

        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        var detail = errno switch
        {
            Libc.EPERM => $"no ptrace access to pid {Pid}: run as root or with CAP_SYS_PTRACE",
            Libc.EBADF => $"pid {Pid} has no descriptor {targetFd}",
            Libc.ESRCH => $"pid {Pid} has exited",
            _ => $"descriptor {targetFd} of pid {Pid}",
        };
        throw new NativeCallException("pidfd_getfd", errno, detail);
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the process (pidfd_send_signal(2), Linux 5.1+: unlike
    /// kill(2) it cannot reach another process that reused the pid). False when the process has
    /// exited (ESRCH); any other refusal is a <see cref="NativeCallException"/>.
    /// </summary>
    public bool SendSignal(ProcessSignal signal)
    {
        if (Libc.Syscall(Libc.SYS_pidfd_send_signal, Fd.Value, (int)signal, 0, 0) == 0)
        {
            return true;
        }

        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno == Libc.ESRCH ? false : throw new NativeCallException("pidfd_send_signal", errno, $"signal {signal} to pid {Pid}");
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();
}
