namespace VmmSwap.Native;

/// <summary>Symbolic names of the errno values this layer can meet, for messages people read.</summary>
internal static class ErrnoNames
{
    internal static string Of(int errno) => errno switch
    {
        Libc.EPERM => "EPERM",
        Libc.ENOENT => "ENOENT",
        Libc.ESRCH => "ESRCH",
        Libc.EINTR => "EINTR",
        Libc.ENXIO => "ENXIO",
        Libc.EBADF => "EBADF",
        Libc.EAGAIN => "EAGAIN",
        Libc.ENOMEM => "ENOMEM",
        Libc.EACCES => "EACCES",
        Libc.EFAULT => "EFAULT",
        Libc.EEXIST => "EEXIST",
        Libc.ENOTDIR => "ENOTDIR",
        Libc.EISDIR => "EISDIR",
        Libc.EINVAL => "EINVAL",
        Libc.ENOSPC => "ENOSPC",
        16 => "EBUSY",
        Libc.ENOSYS => "ENOSYS",
        Libc.EOPNOTSUPP => "EOPNOTSUPP",
        _ => $"errno {errno}",
    };
}
