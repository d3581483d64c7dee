using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Uffd;

/// <summary>
/// A non-blocking userfaultfd handshaken for missing-page faults on shared memory and remove
/// events. Thin: it reports what the kernel says, typed; deciding what to do is the caller's job.
/// </summary>
/// <remarks>
/// One file past the usual length because it is the whole ioctl surface of one kernel object
/// (API handshake, register, unregister, copy, zero page, wake, events), each call with the errno
/// classification the kernel gives that call.
/// </remarks>
public sealed unsafe class Userfaultfd : IDisposable
{
    private const string DevicePath = "/dev/userfaultfd";
    private const ulong ProbeAddress = 0x7FFF_FFFF_E000;
    private const ulong RequiredFeatures = UffdAbi.FeatureEventRemove | UffdAbi.FeatureMissingShmem;

    // Bits of uffdio_register.ioctls: the ioctl numbers a registered range accepts.
    private const ulong RangeIoctlsNeeded = (1UL << 0x02) | (1UL << 0x03) | (1UL << 0x04);

    private const string PermissionFix =
        "run as root, grant this user read/write access to /dev/userfaultfd, " +
        "or allow unprivileged use with 'sysctl vm.unprivileged_userfaultfd=1'";

    private Userfaultfd(SafeFd fd) => Fd = fd;

    /// <summary>The descriptor, for epoll and for passing to another process.</summary>
    public SafeFd Fd { get; }

    /// <summary>
    /// Opens a userfaultfd (through /dev/userfaultfd, else the syscall) and performs the API
    /// handshake. Throws <see cref="UserfaultfdUnavailableException"/> naming the cause and the fix.
    /// </summary>
    public static Userfaultfd Create() => Create(DevicePath, syscallFallback: true);

    /// <summary>Opens through <paramref name="devicePath"/>; tests point it elsewhere to see the refusal path.</summary>
    internal static Userfaultfd Create(string devicePath, bool syscallFallback)
    {
        var fd = OpenRaw(devicePath, syscallFallback);
        try
        {
            Handshake(fd);
            return new Userfaultfd(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adopts a descriptor that is already a handshaken userfaultfd, e.g. one created by a forked
    /// process and received over a socket.
    /// </summary>
    public static Userfaultfd Adopt(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        return new Userfaultfd(fd);
    }

    /// <summary>Registers <paramref name="address"/>..+<paramref name="length"/> for missing-page faults.</summary>
    public void Register(nint address, ulong length)
    {
        PageAlignment.Require(address, length, "UFFDIO_REGISTER");
        var args = new UffdAbi.RegisterArgs
        {
            Range = new UffdAbi.Range { Start = (ulong)address, Len = length },
            Mode = UffdAbi.RegisterModeMissing,
        };
        if (Libc.Ioctl(Fd.Value, UffdAbi.IocRegister, &args) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.ENOMEM)
            {
                throw NoMapping("ioctl(UFFDIO_REGISTER)", address, length);
            }

            throw new NativeCallException(
                "ioctl(UFFDIO_REGISTER)",
                errno,
                $"range 0x{address:X}+0x{length:X} must be a shared-memory (memfd) mapping not registered elsewhere");
        }

        if ((args.Ioctls & RangeIoctlsNeeded) != RangeIoctlsNeeded)
        {
            throw new UserfaultfdUnavailableException(
                "ioctl(UFFDIO_REGISTER)",
                Libc.EOPNOTSUPP,
                $"the kernel offers ioctls 0x{args.Ioctls:X} on this range but WAKE, COPY and ZEROPAGE are needed; use a kernel of 4.19 or later");
        }
    }

    /// <summary>Unregisters a range; pending faults in it are woken and retried by the kernel.</summary>
    public void Unregister(nint address, ulong length)
    {
        PageAlignment.Require(address, length, "UFFDIO_UNREGISTER");
        var range = new UffdAbi.Range { Start = (ulong)address, Len = length };
        if (Libc.Ioctl(Fd.Value, UffdAbi.IocUnregister, &range) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == Libc.ENOMEM
                ? NoMapping("ioctl(UFFDIO_UNREGISTER)", address, length)
                : ClassifyError("ioctl(UFFDIO_UNREGISTER)", errno, (ulong)address);
        }
    }

    /// <summary>
    /// Checks that this descriptor can serve guest memory: open, a userfaultfd, handshaken
    /// (UFFDIO_API done) with EVENT_REMOVE and MISSING_SHMEM. Read from /proc/self/fdinfo, which
    /// shows the features the handshake granted. Throws <see cref="InvalidUserfaultfdException"/>
    /// naming what is wrong.
    /// </summary>
    public void Validate()
    {
        if (Fd.IsClosed || Fd.IsInvalid)
        {
            throw new InvalidUserfaultfdException(-1, "it is closed");
        }

        var fd = Fd.Value;
        string? target;
        try
        {
            target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException e)
        {
            throw new InvalidUserfaultfdException(fd, $"it cannot be inspected ({e.Message})");
        }

        if (target != "anon_inode:[userfaultfd]")
        {
            throw new InvalidUserfaultfdException(fd, $"it is {target ?? "not open"}, not a userfaultfd");
        }

        var features = FdInfoFeatures(File.ReadAllLines($"/proc/self/fdinfo/{fd}"))
            ?? throw new InvalidUserfaultfdException(fd, "its /proc/self/fdinfo has no API line");
        if ((features & UffdAbi.FeatureInitialized) == 0)
        {
            throw new InvalidUserfaultfdException(fd, "its owner never completed the UFFDIO_API handshake");
        }

        if ((features & RequiredFeatures) != RequiredFeatures)
        {
            throw new InvalidUserfaultfdException(fd, $"its handshake enabled features 0x{features & ~UffdAbi.FeatureInitialized:X}; EVENT_REMOVE (0x{UffdAbi.FeatureEventRemove:X}) and MISSING_SHMEM (0x{UffdAbi.FeatureMissingShmem:X}) are needed");
        }
    }

    // "API:\t<api>:<features>:<ioctls>" in hex.
    internal static ulong? FdInfoFeatures(IEnumerable<string> fdinfo)
    {
        foreach (var line in fdinfo)
        {
            if (line.StartsWith("API:", StringComparison.Ordinal))
            {
                var fields = line[4..].Trim().Split(':');
                return fields.Length == 3 && ulong.TryParse(fields[1], System.Globalization.NumberStyles.HexNumber, null, out var features) ? features : null;
            }
        }

        return null;
    }

    // ENOMEM from REGISTER / UNREGISTER: no mapping at the range in the mm behind the
    // userfaultfd, either because its process exited (the mm is gone) or because it maps the
    // memory elsewhere. ZEROPAGE tells them apart: it fails with ESRCH when the mm is gone and
    // with ENOENT where nothing is registered. It is aimed at the last page below the 47-bit
    // user address limit, which no process maps (stacks and mmap start well below it), so it
    // can never fill a page that matters.
    private NativeCallException NoMapping(string call, nint address, ulong length)
    {
        var args = new UffdAbi.ZeroPageArgs
        {
            Range = new UffdAbi.Range { Start = ProbeAddress, Len = (ulong)SystemPageSizes.PageSize },
            Mode = UffdAbi.ZeroPageModeDontWake,
        };
        var gone = Libc.Ioctl(Fd.Value, UffdAbi.IocZeroPage, &args) < 0 && Marshal.GetLastPInvokeError() == Libc.ESRCH;
        return gone ? new UffdTargetGoneException(call, Libc.ENOMEM) : new UffdNotMappedException(call, address, length);
    }

    /// <summary>
    /// Atomically fills <paramref name="length"/> bytes at <paramref name="destination"/> from
    /// <paramref name="source"/>, continuing after partial copies. <paramref name="source"/> must not be
    /// registered memory. Throws <see cref="UffdPageExistsException"/> when a page is already
    /// populated and <see cref="UffdRetryException"/> (with the bytes done) while an event is pending.
    /// </summary>
    public void Copy(nint destination, nint source, ulong length, bool wake)
    {
        PageAlignment.Require(destination, length, "UFFDIO_COPY");
        ulong done = 0;
        while (done < length)
        {
            var args = new UffdAbi.CopyArgs
            {
                Dst = (ulong)destination + done,
                Src = (ulong)source + done,
                Len = length - done,
                Mode = wake ? 0 : UffdAbi.CopyModeDontWake,
            };
            if (Libc.Ioctl(Fd.Value, UffdAbi.IocCopy, &args) == 0)
            {
                return;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (args.Copy > 0)
            {
                // A partial copy reports the bytes it did in .copy and EAGAIN; go on after them.
                done += (ulong)args.Copy;
                continue;
            }

            throw ClassifyError("ioctl(UFFDIO_COPY)", errno, args.Dst, done);
        }
    }

    /// <summary>Maps zero pages over <paramref name="address"/>..+<paramref name="length"/>.</summary>
    public void ZeroPage(nint address, ulong length, bool wake)
    {
        PageAlignment.Require(address, length, "UFFDIO_ZEROPAGE");
        var args = new UffdAbi.ZeroPageArgs
        {
            Range = new UffdAbi.Range { Start = (ulong)address, Len = length },
            Mode = wake ? 0 : UffdAbi.ZeroPageModeDontWake,
        };
        if (Libc.Ioctl(Fd.Value, UffdAbi.IocZeroPage, &args) < 0)
        {
            throw ClassifyError("ioctl(UFFDIO_ZEROPAGE)", Marshal.GetLastPInvokeError(), (ulong)address);
        }
    }

    /// <summary>Wakes threads waiting on faults in the range without populating it.</summary>
    public void Wake(nint address, ulong length)
    {
        PageAlignment.Require(address, length, "UFFDIO_WAKE");
        var range = new UffdAbi.Range { Start = (ulong)address, Len = length };
        if (Libc.Ioctl(Fd.Value, UffdAbi.IocWake, &range) < 0)
        {
            throw ClassifyError("ioctl(UFFDIO_WAKE)", Marshal.GetLastPInvokeError(), (ulong)address);
        }
    }

    /// <summary>
    /// Drains the queue without blocking: reads events until none is pending or
    /// <paramref name="max"/> are read, in the order the
    /// kernel queued them. An empty array means nothing was pending. Past <paramref name="max"/>
    /// the rest stay queued: the fault pump's epoll watch is level-triggered, so it is woken for
    /// them again.
    /// </summary>
    public UffdEvent[] Drain(int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        Span<UffdEvent> buffer = stackalloc UffdEvent[64];
        List<UffdEvent>? events = null;
        int n;
        while ((events?.Count ?? 0) < max && (n = ReadEvents(buffer[..Math.Min(buffer.Length, max - (events?.Count ?? 0))])) > 0)
        {
            events ??= new List<UffdEvent>(n);
            foreach (var e in buffer[..n])
            {
                events.Add(e);
            }
        }

        return events is null ? [] : [.. events];
    }

    /// <summary>
    /// Reads as many pending events as fit in <paramref name="events"/> without blocking and
    /// returns how many were read; 0 means the queue is drained.
    /// </summary>
    public int ReadEvents(Span<UffdEvent> events)
    {
        const int MaxBatch = 64;
        var count = Math.Min(events.Length, MaxBatch);
        if (count == 0)
        {
            return 0;
        }

        var messages = stackalloc UffdAbi.Message[count];
        while (true)
        {
            var n = Libc.Read(Fd.Value, messages, (nuint)(count * UffdAbi.MessageSize));
            if (n >= 0)
            {
                var read = (int)(n / UffdAbi.MessageSize);
                for (var i = 0; i < read; i++)
                {
                    events[i] = Decode(messages[i]);
                }

                return read;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EAGAIN)
            {
                return 0;
            }

            if (errno != Libc.EINTR)
            {
                throw new NativeCallException("read(userfaultfd)", errno);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();

    private static UffdEvent Decode(in UffdAbi.Message m) => m.Event switch
    {
        UffdAbi.EventPageFault => new UffdEvent(UffdEventKind.PageFault, m.Arg1, 0, m.Arg0),
        UffdAbi.EventRemove => new UffdEvent(UffdEventKind.Remove, m.Arg0, m.Arg1, 0),
        _ => new UffdEvent(UffdEventKind.Unsupported, m.Arg0, 0, m.Event),
    };

    private static SafeFd OpenRaw(string devicePath, bool syscallFallback)
    {
        const int Flags = Libc.O_CLOEXEC | Libc.O_NONBLOCK;
        int deviceErrno;
        var dev = Libc.Open(devicePath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (dev >= 0)
        {
            using var device = new SafeFd(dev);
            var fd = Libc.Ioctl(device.Value, UffdAbi.IocNew, Flags);
            if (fd >= 0)
            {
                return new SafeFd(fd);
            }

            deviceErrno = Marshal.GetLastPInvokeError();
        }
        else
        {
            deviceErrno = Marshal.GetLastPInvokeError();
        }

        if (!syscallFallback)
        {
            throw new UserfaultfdUnavailableException(
                $"open({devicePath})", deviceErrno, $"{devicePath} cannot be used: {PermissionFix}");
        }

        var number = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => Libc.SYS_userfaultfd_x64,
            Architecture.Arm64 => Libc.SYS_userfaultfd_arm64,
            var other => throw new PlatformNotSupportedException($"userfaultfd: no syscall number known for {other}"),
        };
        var raw = Libc.Syscall(number, Flags);
        if (raw >= 0)
        {
            return new SafeFd((int)raw);
        }

        var errno = Marshal.GetLastPInvokeError();
        throw errno switch
        {
            Libc.ENOSYS => new UserfaultfdUnavailableException(
                "userfaultfd()", errno, "the kernel is built without CONFIG_USERFAULTFD; use a kernel with userfaultfd enabled"),
            Libc.EPERM or Libc.EACCES => new UserfaultfdUnavailableException(
                "userfaultfd()",
                errno,
                $"{devicePath} was refused ({ErrnoNames.Of(deviceErrno)}) and the syscall needs privilege: {PermissionFix}"),
            _ => new NativeCallException("userfaultfd()", errno),
        };
    }

    private static void Handshake(SafeFd fd)
    {
        var api = new UffdAbi.ApiArgs { Api = UffdAbi.Api, Features = RequiredFeatures };
        if (Libc.Ioctl(fd.Value, UffdAbi.IocApi, &api) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new UserfaultfdUnavailableException(
                "ioctl(UFFDIO_API)",
                errno,
                "the kernel lacks UFFD_FEATURE_EVENT_REMOVE or UFFD_FEATURE_MISSING_SHMEM; use Linux 4.11 or later");
        }

        if ((api.Features & RequiredFeatures) != RequiredFeatures)
        {
            throw new UserfaultfdUnavailableException(
                "ioctl(UFFDIO_API)",
                Libc.EINVAL,
                $"the kernel granted features 0x{api.Features:X}, missing EVENT_REMOVE or MISSING_SHMEM; use Linux 4.11 or later");
        }
    }

    private static NativeCallException ClassifyError(string call, int errno, ulong address, ulong done = 0) => errno switch
    {
        Libc.EEXIST => new UffdPageExistsException(call, address),
        Libc.EAGAIN => new UffdRetryException(call, done),
        Libc.ESRCH => new UffdTargetGoneException(call, errno),
        _ => new NativeCallException(call, errno, $"at 0x{address:X}"),
    };
}
