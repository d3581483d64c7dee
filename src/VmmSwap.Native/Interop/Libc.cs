using System.Runtime.InteropServices;

namespace VmmSwap.Native.Interop;

/// <summary>
/// Raw libc entry points. Every import sets the last error so callers can turn a failure into a
/// <see cref="NativeCallException"/> naming the call. None uses SuppressGCTransition: a call that
/// touches guest memory may block in a page fault, and the GC must not wait for it (docs/ARCHITECTURE.md, "GC safety").
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EFAULT = 14;
    internal const int EEXIST = 17;
    internal const int EINVAL = 22;
    internal const int ENOSPC = 28;
    internal const int ESRCH = 3;
    internal const int EPERM = 1;
    internal const int ENXIO = 6;
    internal const int EOPNOTSUPP = 95;
    internal const int EISDIR = 21;
    internal const int ENOTDIR = 20;
    internal const int EBADF = 9;
    internal const int ENOSYS = 38;
    internal const int ENODEV = 19;

    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;

    internal const int O_RDONLY = 0;
    internal const int O_WRONLY = 1;
    internal const int O_RDWR = 2;
    internal const int O_EXCL = 0x80;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;
    internal const int O_DIRECTORY = 0x10000;
    internal const int O_DIRECT = 0x4000;
    internal const int O_TMPFILE = 0x400000 | O_DIRECTORY;

    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
    internal const int PROT_EXEC = 4;
    internal const int MAP_SHARED = 1;
    internal const int MAP_PRIVATE = 2;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_NORESERVE = 0x4000;
    internal const int MAP_FIXED_NOREPLACE = 0x100000;

    internal const int SEEK_SET = 0;
    internal const int SEEK_DATA = 3;
    internal const int SEEK_HOLE = 4;

    internal const int POSIX_FADV_RANDOM = 1;
    internal const int POSIX_FADV_WILLNEED = 3;
    internal const int POSIX_FADV_DONTNEED = 4;
    internal const uint SYNC_FILE_RANGE_WRITE = 2;
    internal const int PRIO_PROCESS = 0;

    internal const int FALLOC_FL_KEEP_SIZE = 1;
    internal const int FALLOC_FL_PUNCH_HOLE = 2;

    internal const uint MFD_CLOEXEC = 1;

    internal const int EFD_CLOEXEC = O_CLOEXEC;
    internal const int EFD_NONBLOCK = O_NONBLOCK;
    internal const int EPOLL_CLOEXEC = O_CLOEXEC;

    internal const long SYS_userfaultfd_x64 = 323;
    internal const long SYS_userfaultfd_arm64 = 282;

    // The same on x86_64 and arm64: both came after the syscall tables were unified (5.1).
    internal const long SYS_pidfd_open = 434;
    internal const long SYS_pidfd_getfd = 438;
    internal const long SYS_pidfd_send_signal = 424;

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, int arg);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long arg0, long arg1, long arg2);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long arg0, long arg1, long arg2, long arg3);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, long arg0, long arg1, long arg2, long arg3, long arg4, long arg5);

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(int fd, Sockets.SocketAbi.MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int fd, Sockets.SocketAbi.MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "sigaction", SetLastError = true)]
    internal static partial int Sigaction(int signal, SigactionStruct* action, SigactionStruct* previous);

    [LibraryImport(Lib, EntryPoint = "__libc_current_sigrtmax")]
    internal static partial int CurrentSigRtMax();

    [LibraryImport(Lib, EntryPoint = "pthread_self")]
    internal static partial nuint PthreadSelf();

    // Returns the error number instead of setting errno.
    [LibraryImport(Lib, EntryPoint = "pthread_kill")]
    internal static partial int PthreadKill(nuint thread, int signal);

    [LibraryImport(Lib, EntryPoint = "mprotect", SetLastError = true)]
    internal static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, ulong request, nint arg);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "pread64", SetLastError = true)]
    internal static partial nint Pread(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite64", SetLastError = true)]
    internal static partial nint Pwrite(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "sendfile64", SetLastError = true)]
    internal static partial nint Sendfile(int outFd, int inFd, long* offset, nuint count);

    [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate64", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "mmap64", SetLastError = true)]
    internal static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint addr, nuint length);

    [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Madvise(nint addr, nuint length, int advice);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int Fdatasync(int fd);

    [LibraryImport(Lib, EntryPoint = "sync_file_range", SetLastError = true)]
    internal static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    // Returns the error number instead of setting errno.
    [LibraryImport(Lib, EntryPoint = "posix_fadvise64")]
    internal static partial int PosixFadvise(int fd, long offset, long length, int advice);

    [LibraryImport(Lib, EntryPoint = "mincore", SetLastError = true)]
    internal static partial int Mincore(nint addr, nuint length, byte* vec);

    [LibraryImport(Lib, EntryPoint = "lseek64", SetLastError = true)]
    internal static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "fallocate64", SetLastError = true)]
    internal static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Lib, EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport(Lib, EntryPoint = "setpriority", SetLastError = true)]
    internal static partial int SetPriority(int which, uint who, int prio);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    internal static partial int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeout);

    // memcpy/memset/memcmp are the only way managed code reaches guest memory: in native code the
    // thread is in preemptive mode, so a GC does not wait for a thread stalled in a page fault.
    [LibraryImport(Lib, EntryPoint = "memcpy")]
    internal static partial nint Memcpy(nint dst, nint src, nuint count);

    [LibraryImport(Lib, EntryPoint = "memset")]
    internal static partial nint Memset(nint dst, int value, nuint count);

    [LibraryImport(Lib, EntryPoint = "memcmp")]
    internal static partial int Memcmp(nint a, nint b, nuint count);

    /// <summary>x86_64 packs <c>struct epoll_event</c> to 12 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct EpollEvent
    {
        internal uint Events;
        internal ulong Data;
    }

    internal const int SA_RESTART = 0x1000_0000;

    /// <summary>glibc's x86_64 <c>struct sigaction</c>: handler, a 1024-bit mask, flags, restorer (glibc fills in the restorer).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 152)]
    internal struct SigactionStruct
    {
        [FieldOffset(0)] internal nint Handler;
        [FieldOffset(8)] internal SignalMask Mask;
        [FieldOffset(136)] internal int Flags;
        [FieldOffset(144)] internal nint Restorer;
    }

    /// <summary>glibc's <c>sigset_t</c>: 1024 bits.</summary>
    [System.Runtime.CompilerServices.InlineArray(16)]
    internal struct SignalMask
    {
        private ulong _word;
    }
}
