using System.Diagnostics;
using System.Globalization;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Testing;

/// <summary>
/// A userfaultfd that belongs to another process (a stand-in for a VMM's forked child): a python3
/// child creates and handshakes it, and this process takes a copy with pidfd_getfd (root, Linux 5.6+).
/// Given guest mappings, the child maps the same memfd ranges at the same addresses, as a forked
/// child shares them, and reads, writes or registers them on command.
/// </summary>
public sealed class ForeignUserfaultfd : IDisposable
{
    // argv: parent pid, api features, then memfd:offset:address:size per mapping (address 0: where
    // the kernel likes). It prints its descriptor and the address of each mapping. Commands on
    // stdin, one per line: "read ADDR" (prints the page's sha256), "write ADDR BYTE", "register"
    // (its own mappings, missing mode), "exit". Each answers one line.
    private const string ChildScript = """
        import ctypes, fcntl, hashlib, os, struct, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        ppid, features = int(sys.argv[1]), int(sys.argv[2])
        maps = []
        for spec in sys.argv[3:]:
            memfd, offset, addr, size = (int(x) for x in spec.split(':'))
            fd = os.open('/proc/%d/fd/%d' % (ppid, memfd), os.O_RDWR)
            got = libc.mmap(addr or None, size, 3, 0x01 | (0x100000 if addr else 0), fd, offset)
            if got in (None, 2**64 - 1) or (addr and got != addr):
                sys.exit('mmap at 0x%x gave 0x%x, errno %d' % (addr, got or 0, ctypes.get_errno()))
            os.close(fd)
            maps.append((got, size))
        ufd = libc.syscall(323 if os.uname().machine == 'x86_64' else 282, os.O_CLOEXEC | os.O_NONBLOCK)
        if ufd < 0:
            sys.exit('userfaultfd: errno %d' % ctypes.get_errno())
        if features >= 0:
            fcntl.ioctl(ufd, 0xC018AA3F, bytearray(struct.pack('QQQ', 0xAA, features, 0)))
        print(ufd, *[a for a, _ in maps], flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == 'exit':
                break
            if words[0] == 'read':
                print(hashlib.sha256(ctypes.string_at(int(words[1]), 4096)).hexdigest(), flush=True)
            elif words[0] == 'write':
                ctypes.memset(int(words[1]), int(words[2]), 4096)
                print('ok', flush=True)
            elif words[0] == 'register':
                for addr, size in maps:
                    fcntl.ioctl(ufd, 0xC020AA00, bytearray(struct.pack('QQQQ', addr, size, 1, 0)))
                print('ok', flush=True)
        """;

    // UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_MISSING_SHMEM, as the runtime's own userfaultfd.
    private const int RuntimeFeatures = 0x28;

    private readonly Process _child;

    private ForeignUserfaultfd(Process child, Userfaultfd uffd, IReadOnlyList<nint> mappedAt)
    {
        _child = child;
        Uffd = uffd;
        MappedAt = mappedAt;
    }

    /// <summary>Where the child mapped each of the mappings it was given, in its own address space.</summary>
    public IReadOnlyList<nint> MappedAt { get; }

    /// <summary>Our copy of the child's userfaultfd.</summary>
    public Userfaultfd Uffd { get; }

    /// <summary>The child's process id.</summary>
    public int Pid => _child.Id;

    /// <summary>Starts a child that maps nothing, handshaken with no features, and takes its userfaultfd.</summary>
    public static ForeignUserfaultfd Create() => Create([], features: 0);

    /// <summary>
    /// Starts a child that maps each of <paramref name="mappings"/> (a memfd of this process, its
    /// offset, the address, the size) at that address (anywhere for address 0: see
    /// <see cref="MappedAt"/>), and takes its userfaultfd, handshaken
    /// with <paramref name="features"/> (the runtime's by default; -1 skips UFFDIO_API).
    /// </summary>
    public static ForeignUserfaultfd Create(IEnumerable<(int MemFd, long Offset, nint Address, ulong Size)> mappings, int features = RuntimeFeatures)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        var args = new List<string> { "-c", ChildScript, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), features.ToString(CultureInfo.InvariantCulture) };
        args.AddRange(mappings.Select(m => FormattableString.Invariant($"{m.MemFd}:{m.Offset}:{(long)m.Address}:{m.Size}")));
        var start = new ProcessStartInfo("python3", args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
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
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var childFd = int.Parse(words[0], CultureInfo.InvariantCulture);
        var mappedAt = words.Skip(1).Select(w => (nint)long.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        using var pidfd = Pidfd.Open(child.Id);
        return new ForeignUserfaultfd(child, Userfaultfd.Adopt(pidfd.GetFd(childFd)), mappedAt);
    }

    /// <summary>The sha256 (hex) of the page at <paramref name="address"/> as the child reads it (it may fault).</summary>
    public string ReadPage(nint address) => Command(FormattableString.Invariant($"read {(long)address}"));

    /// <summary>Fills the page at <paramref name="address"/> with <paramref name="value"/> from the child.</summary>
    public void WritePage(nint address, byte value) => Expect("ok", Command(FormattableString.Invariant($"write {(long)address} {value}")));

    /// <summary>The child registers its own mappings with its userfaultfd (missing mode).</summary>
    public void RegisterOwnMappings() => Expect("ok", Command("register"));

    /// <summary>Sends a command and returns the child's answer, or throws with its stderr if it died.</summary>
    public string Command(string command)
    {
        _child.StandardInput.WriteLine(command);
        _child.StandardInput.Flush();
        return _child.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"the python3 child died on '{command}': {_child.StandardError.ReadToEnd()}");
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

    private static void Expect(string expected, string answer)
    {
        if (answer != expected)
        {
            throw new InvalidOperationException($"the python3 child answered '{answer}', not '{expected}'");
        }
    }
}
