using System.Diagnostics;
using System.Globalization;
using VmmSwap.Native;

namespace VmmSwap.Testing;

/// <summary>
/// A userfaultfd that belongs to another process (a stand-in for a VMM's forked child): a python3
/// child creates and handshakes it, and this process takes a copy with pidfd_getfd (root, Linux 5.6+).
/// </summary>
public sealed class ForeignUserfaultfd : IDisposable
{
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
        using var pidfd = Pidfd.Open(child.Id);
        return new ForeignUserfaultfd(child, Userfaultfd.Adopt(pidfd.GetFd(childFd)));
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
}
