using Mono.Unix.Native;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Files;

/// <summary>File calls on raw descriptors: size, positional I/O, hole punching, status.</summary>
public static unsafe class FileOps
{
    /// <summary>Sets the file's size (ftruncate).</summary>
    public static void Truncate(SafeFd fd, long size)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.Ftruncate(fd.Value, size) < 0)
        {
            throw NativeCallException.FromLastError("ftruncate", $"fd {fd.Value} to {size} bytes");
        }
    }

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="offset"/>, retrying short writes.</summary>
    public static void WriteAll(SafeFd fd, nint source, ulong length, long offset)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ulong done = 0;
        while (done < length)
        {
            var n = Libc.Pwrite(fd.Value, (void*)(source + (nint)done), (nuint)(length - done), offset + (long)done);
            if (n < 0)
            {
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR)
                {
                    continue;
                }

                throw NativeCallException.FromLastError("pwrite", $"fd {fd.Value} offset {offset + (long)done} length {length - done}");
            }

            done += (ulong)n;
        }
    }

    /// <summary>
    /// Copies <paramref name="length"/> bytes of the file <paramref name="from"/> at
    /// <paramref name="fromOffset"/> into <paramref name="to"/> at <paramref name="toOffset"/>
    /// inside the kernel (lseek, then sendfile until done), so no page of the source is mapped or
    /// copied through user memory; a hole in the source reads as zeros. It moves
    /// <paramref name="to"/>'s file position: give it a descriptor of its own that nothing else
    /// positions (see <see cref="ReopenForWriting"/>), used by one thread at a time.
    /// </summary>
    public static void SendAll(SafeFd to, long toOffset, SafeFd from, long fromOffset, ulong length)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(from);
        if (Libc.Lseek(to.Value, toOffset, Libc.SEEK_SET) < 0)
        {
            throw NativeCallException.FromLastError("lseek", $"fd {to.Value} to {toOffset}, to send into it");
        }

        var position = fromOffset;
        var end = fromOffset + (long)length;
        while (position < end)
        {
            var n = Libc.Sendfile(to.Value, from.Value, &position, (nuint)(end - position));
            if (n < 0)
            {
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR)
                {
                    continue;
                }

                throw NativeCallException.FromLastError("sendfile", $"fd {from.Value} offset {position} to fd {to.Value} offset {toOffset + (position - fromOffset)}, {end - position} bytes left");
            }

            if (n == 0)
            {
                throw new EndOfStreamException($"sendfile: fd {from.Value} ended at offset {position}, {end - position} bytes short");
            }
        }
    }

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="offset"/>.</summary>
    public static void WriteAll(SafeFd fd, ReadOnlySpan<byte> source, long offset)
    {
        fixed (byte* p = source)
        {
            WriteAll(fd, (nint)p, (ulong)source.Length, offset);
        }
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; past the end reads zeros are an error.</summary>
    public static void ReadExactly(SafeFd fd, Span<byte> destination, long offset)
    {
        ArgumentNullException.ThrowIfNull(fd);
        fixed (byte* p = destination)
        {
            var done = 0;
            while (done < destination.Length)
            {
                var n = Libc.Pread(fd.Value, p + done, (nuint)(destination.Length - done), offset + done);
                if (n < 0)
                {
                    if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.EINTR)
                    {
                        continue;
                    }

                    throw NativeCallException.FromLastError("pread", $"fd {fd.Value} offset {offset + done}");
                }

                if (n == 0)
                {
                    throw new EndOfStreamException($"pread: fd {fd.Value} ended at offset {offset + done}, {destination.Length - done} bytes short");
                }

                done += (int)n;
            }
        }
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes at <paramref name="offset"/> into native memory at <paramref name="destination"/>.</summary>
    public static void ReadExactly(SafeFd fd, nint destination, ulong length, long offset) =>
        ReadExactly(fd, new Span<byte>((void*)destination, checked((int)length)), offset);

    /// <summary>
    /// Starts writeback of a byte range's dirty pages without waiting for it
    /// (sync_file_range WRITE), so a later fdatasync finds most of the file already on disk.
    /// </summary>
    public static void StartWriteback(SafeFd fd, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.SyncFileRange(fd.Value, offset, length, Libc.SYNC_FILE_RANGE_WRITE) < 0)
        {
            throw NativeCallException.FromLastError("sync_file_range(WRITE)", $"fd {fd.Value} offset {offset} length {length}");
        }
    }

    /// <summary>
    /// Drops the clean cached pages of a byte range from the page cache (POSIX_FADV_DONTNEED), so
    /// data already copied elsewhere stops holding RAM. Dirty pages are left to writeback.
    /// </summary>
    public static void DropCachedRange(SafeFd fd, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var error = Libc.PosixFadvise(fd.Value, offset, length, Libc.POSIX_FADV_DONTNEED);
        if (error != 0)
        {
            throw new NativeCallException("posix_fadvise(DONTNEED)", error, $"fd {fd.Value} offset {offset} length {length}");
        }
    }

    /// <summary>
    /// Starts reading a byte range into the page cache without waiting for it (POSIX_FADV_WILLNEED):
    /// a later read of it, or a fault on a mapping of it, finds it there.
    /// </summary>
    public static void ReadAhead(SafeFd fd, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var error = Libc.PosixFadvise(fd.Value, offset, length, Libc.POSIX_FADV_WILLNEED);
        if (error != 0)
        {
            throw new NativeCallException("posix_fadvise(WILLNEED)", error, $"fd {fd.Value} offset {offset} length {length}");
        }
    }

    /// <summary>
    /// Opens the file of <paramref name="fd"/> again, read-only, as a new open file description
    /// (its own flags and read-ahead state), through /proc/self/fd: the one way to open an unnamed
    /// (O_TMPFILE) file twice.
    /// </summary>
    public static SafeFd Reopen(SafeFd fd) =>
        TryReopen(fd, 0) ?? throw NativeCallException.FromLastError("open", $"/proc/self/fd/{fd.Value}, to read fd {fd.Value} a second time");

    /// <summary>
    /// Opens the file of <paramref name="fd"/> again for writing, as a new open file description
    /// with a file position of its own (for <see cref="SendAll"/>), through /proc/self/fd.
    /// </summary>
    public static SafeFd ReopenForWriting(SafeFd fd) =>
        TryReopen(fd, Libc.O_WRONLY) ?? throw NativeCallException.FromLastError("open", $"/proc/self/fd/{fd.Value}, to write fd {fd.Value} through a second descriptor");

    /// <summary>
    /// <see cref="Reopen"/> with O_DIRECT, so reads through it bypass the page cache (page-aligned
    /// buffers, offsets and lengths); null when the file system refuses O_DIRECT (EINVAL).
    /// </summary>
    public static SafeFd? ReopenDirect(SafeFd fd)
    {
        if (TryReopen(fd, Libc.O_DIRECT) is { } direct)
        {
            return direct;
        }

        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno == Libc.EINVAL ? null : throw new NativeCallException("open(O_DIRECT)", errno, $"/proc/self/fd/{fd.Value}, to read fd {fd.Value} a second time");
    }

    private static SafeFd? TryReopen(SafeFd fd, int flags)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var opened = Libc.Open($"/proc/self/fd/{fd.Value}", Libc.O_RDONLY | Libc.O_CLOEXEC | flags, 0);
        return opened >= 0 ? new SafeFd(opened) : null;
    }

    /// <summary>
    /// Turns the kernel's read-ahead off for reads through <paramref name="fd"/>'s open file
    /// description (POSIX_FADV_RANDOM): each read then reads what it asks for and no more.
    /// </summary>
    public static void NoReadAhead(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var error = Libc.PosixFadvise(fd.Value, 0, 0, Libc.POSIX_FADV_RANDOM);
        if (error != 0)
        {
            throw new NativeCallException("posix_fadvise(RANDOM)", error, $"fd {fd.Value}");
        }
    }

    /// <summary>Frees the blocks of a byte range, keeping the file size (fallocate PUNCH_HOLE).</summary>
    public static void PunchHole(SafeFd fd, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.Fallocate(fd.Value, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length) < 0)
        {
            throw NativeCallException.FromLastError("fallocate(PUNCH_HOLE)", $"fd {fd.Value} offset {offset} length {length}");
        }
    }

    /// <summary>
    /// Writes the file's dirty pages to disk (fdatasync). A failure (EIO, or ENOSPC found at
    /// writeback) means bytes written earlier may never reach the disk.
    /// </summary>
    public static void DataSync(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.Fdatasync(fd.Value) < 0)
        {
            throw NativeCallException.FromLastError("fdatasync", $"fd {fd.Value}");
        }
    }

    /// <summary>
    /// Writes the file's dirty pages to disk (fdatasync) and drops its clean pages from the page
    /// cache (POSIX_FADV_DONTNEED), giving their RAM back now rather than at the next reclaim.
    /// </summary>
    public static void DropPageCache(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Libc.Fdatasync(fd.Value) < 0)
        {
            throw NativeCallException.FromLastError("fdatasync", $"fd {fd.Value}");
        }

        var error = Libc.PosixFadvise(fd.Value, 0, 0, Libc.POSIX_FADV_DONTNEED);
        if (error != 0)
        {
            throw new NativeCallException("posix_fadvise(DONTNEED)", error, $"fd {fd.Value}");
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> itself (a symlink is not followed) is a Unix domain socket;
    /// false if nothing is there. Other lstat(2) failures throw a <see cref="NativeCallException"/>.
    /// </summary>
    public static bool IsSocket(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Syscall.lstat(path, out var stat) < 0)
        {
            var errno = NativeConvert.FromErrno(Stdlib.GetLastError());
            return errno == Libc.ENOENT ? false : throw new NativeCallException("lstat", errno, path);
        }

        return (stat.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFSOCK;
    }

    /// <summary>Bytes an unprivileged writer may still allocate on the file system of <paramref name="fd"/> (fstatvfs: f_bavail * f_frsize).</summary>
    public static ulong AvailableBytes(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Syscall.fstatvfs(fd.Value, out var status) < 0)
        {
            throw new NativeCallException("fstatvfs", NativeConvert.FromErrno(Stdlib.GetLastError()), $"fd {fd.Value}");
        }

        return status.f_bavail * status.f_frsize;
    }

    /// <summary>The status of an open file (fstat).</summary>
    public static FileStatus Status(SafeFd fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (Syscall.fstat(fd.Value, out var stat) < 0)
        {
            throw new NativeCallException("fstat", NativeConvert.FromErrno(Stdlib.GetLastError()), $"fd {fd.Value}");
        }

        return new FileStatus(
            stat.st_size,
            stat.st_blocks * 512,
            (int)((uint)stat.st_mode & 0xFFF),
            (long)stat.st_nlink,
            stat.st_dev,
            stat.st_ino);
    }

    /// <summary>
    /// The data ranges of <paramref name="fd"/> within [<paramref name="start"/>, <paramref name="end"/>),
    /// found with lseek SEEK_DATA / SEEK_HOLE, so holes are skipped without reading them.
    /// </summary>
    public static IEnumerable<(long Start, long End)> DataRanges(SafeFd fd, long start, long end)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var position = start;
        while (position < end)
        {
            var dataStart = Libc.Lseek(fd.Value, position, Libc.SEEK_DATA);
            if (dataStart < 0)
            {
                // ENXIO: no data at or after position.
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Libc.ENXIO)
                {
                    yield break;
                }

                throw NativeCallException.FromLastError("lseek(SEEK_DATA)", $"fd {fd.Value} offset {position}");
            }

            if (dataStart >= end)
            {
                yield break;
            }

            var holeStart = Libc.Lseek(fd.Value, dataStart, Libc.SEEK_HOLE);
            if (holeStart < 0)
            {
                throw NativeCallException.FromLastError("lseek(SEEK_HOLE)", $"fd {fd.Value} offset {dataStart}");
            }

            var rangeEnd = Math.Min(holeStart, end);
            yield return (dataStart, rangeEnd);
            position = rangeEnd;
        }
    }
}
