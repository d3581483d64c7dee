using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using VmmSwap.Native;

namespace VmmSwap.Testing;

/// <summary>
/// A userfaultfd that belongs to another process (a stand-in for a VMM's forked child): a python3
/// child creates and handshakes it, and this process takes a copy with pidfd_getfd (root, Linux 5.6+).
/// </summary>
public sealed partial class ForeignUserfaultfd : IDisposable
{
    private const long SysPidfdOpen = 434;
    private const long SysPidfdGetfd = 438;

    private const string ChildScript = """
        import ctypes, fcntl, os, struct, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(323 if os.uname().machine == 'x86_64' else 282, os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            sys.exit('userfaultfd: errno %d' % ctypes.get_errno())
        fcntl.ioctl(fd, 0xC018AA3F, bytearray(struct.pack('QQQ', 0xAA, 0, 0)))
        print(fd, flush=True)
        time.sleep(120)
        """;

    private readonly Process _child;

    private ForeignUserfaultfd(Process child, Userfaultfd uffd)
    {
        _child = child;
        Uffd = uffd;
    }

    /// <summary>Our copy of the child's userfaultfd.</summary>
    public Userfaultfd Uffd { get; }

    /// <summary>Starts the child and takes its userfaultfd.</summary>
    public static ForeignUserfaultfd Create()
    {
        var start = new ProcessStartInfo("python3", ["-c", ChildScript]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process child;
        try
        {
            child = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("python3 is needed on PATH to create a userfaultfd in another process", e);
        }

        var line = child.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"the python3 child printed no descriptor: {child.StandardError.ReadToEnd()}");
        var childFd = int.Parse(line, CultureInfo.InvariantCulture);
        var pidfd = (int)Syscall(SysPidfdOpen, child.Id, 0, 0);
        if (pidfd < 0)
        {
            throw new NativeCallException("pidfd_open", Marshal.GetLastPInvokeError());
        }

        using var pid = new SafeFd(pidfd);
        var fd = (int)Syscall(SysPidfdGetfd, pidfd, childFd, 0);
        if (fd < 0)
        {
            throw new NativeCallException("pidfd_getfd", Marshal.GetLastPInvokeError(), "needs root (ptrace access to the child)");
        }

        return new ForeignUserfaultfd(child, Userfaultfd.Adopt(new SafeFd(fd)));
    }

    /// <summary>Kills the child and waits until it is gone: its address space no longer exists.</summary>
    public void KillOwner()
    {
        _child.Kill();
        _child.WaitForExit();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_child.HasExited)
        {
            KillOwner();
        }

        _child.Dispose();
        Uffd.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a, long b, long c);
}
