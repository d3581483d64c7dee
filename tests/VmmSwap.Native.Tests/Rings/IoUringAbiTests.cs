using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmmSwap.Native.Rings;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Rings;

/// <summary>The io_uring structs, offsets and numbers <see cref="IoUring"/> uses, against the kernel's headers, through a C probe built with cc.</summary>
public sealed class IoUringAbiTests
{
    private const string Probe = """
        #include <stdio.h>
        #include <stddef.h>
        #include <sys/syscall.h>
        #include <linux/io_uring.h>
        #define V(name, value) printf("%s %llu\n", name, (unsigned long long)(value))
        #define O(type, field) V(#type "." #field, offsetof(struct type, field))
        int main(void)
        {
            V("SYS_io_uring_setup", SYS_io_uring_setup); V("SYS_io_uring_enter", SYS_io_uring_enter);
            V("SYS_io_uring_register", SYS_io_uring_register);
            V("IORING_SETUP_CLAMP", IORING_SETUP_CLAMP); V("IORING_FEAT_SINGLE_MMAP", IORING_FEAT_SINGLE_MMAP);
            V("IORING_FEAT_NODROP", IORING_FEAT_NODROP); V("IORING_FEAT_EXT_ARG", IORING_FEAT_EXT_ARG);
            V("IORING_OFF_SQ_RING", IORING_OFF_SQ_RING); V("IORING_OFF_SQES", IORING_OFF_SQES);
            V("IORING_ENTER_GETEVENTS", IORING_ENTER_GETEVENTS); V("IORING_ENTER_EXT_ARG", IORING_ENTER_EXT_ARG);
            V("IORING_REGISTER_EVENTFD", IORING_REGISTER_EVENTFD); V("IORING_OP_READ", IORING_OP_READ);
            V("sizeof.io_uring_params", sizeof(struct io_uring_params));
            O(io_uring_params, sq_entries); O(io_uring_params, cq_entries); O(io_uring_params, flags);
            O(io_uring_params, features); O(io_uring_params, sq_off); O(io_uring_params, cq_off);
            V("sizeof.io_sqring_offsets", sizeof(struct io_sqring_offsets));
            O(io_sqring_offsets, head); O(io_sqring_offsets, tail); O(io_sqring_offsets, ring_mask); O(io_sqring_offsets, array);
            V("sizeof.io_cqring_offsets", sizeof(struct io_cqring_offsets));
            O(io_cqring_offsets, head); O(io_cqring_offsets, tail); O(io_cqring_offsets, ring_mask); O(io_cqring_offsets, cqes);
            V("sizeof.io_uring_sqe", sizeof(struct io_uring_sqe));
            O(io_uring_sqe, opcode); O(io_uring_sqe, flags); O(io_uring_sqe, ioprio); O(io_uring_sqe, fd);
            O(io_uring_sqe, off); O(io_uring_sqe, addr); O(io_uring_sqe, len); O(io_uring_sqe, rw_flags);
            O(io_uring_sqe, user_data);
            V("sizeof.io_uring_cqe", sizeof(struct io_uring_cqe));
            O(io_uring_cqe, user_data); O(io_uring_cqe, res); O(io_uring_cqe, flags);
            V("sizeof.io_uring_getevents_arg", sizeof(struct io_uring_getevents_arg));
            O(io_uring_getevents_arg, sigmask); O(io_uring_getevents_arg, sigmask_sz); O(io_uring_getevents_arg, ts);
            V("sizeof.__kernel_timespec", sizeof(struct __kernel_timespec));
            return 0;
        }
        """;

    private static readonly Lazy<IReadOnlyDictionary<string, ulong>> Headers = new(() => CProgram.RunForValues(Probe));

    public static TheoryData<string, ulong> Values() => new()
    {
        { "SYS_io_uring_setup", IoUringAbi.SysSetup },
        { "SYS_io_uring_enter", IoUringAbi.SysEnter },
        { "SYS_io_uring_register", IoUringAbi.SysRegister },
        { "IORING_SETUP_CLAMP", IoUringAbi.SetupClamp },
        { "IORING_FEAT_SINGLE_MMAP", IoUringAbi.FeatSingleMmap },
        { "IORING_FEAT_NODROP", IoUringAbi.FeatNoDrop },
        { "IORING_FEAT_EXT_ARG", IoUringAbi.FeatExtArg },
        { "IORING_OFF_SQ_RING", IoUringAbi.OffSqRing },
        { "IORING_OFF_SQES", IoUringAbi.OffSqes },
        { "IORING_ENTER_GETEVENTS", IoUringAbi.EnterGetEvents },
        { "IORING_ENTER_EXT_ARG", IoUringAbi.EnterExtArg },
        { "IORING_REGISTER_EVENTFD", IoUringAbi.RegisterEventFd },
        { "IORING_OP_READ", IoUringAbi.OpRead },
        { "sizeof.io_uring_params", (ulong)Unsafe.SizeOf<IoUringAbi.Params>() },
        { "io_uring_params.sq_entries", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.SqEntries)) },
        { "io_uring_params.cq_entries", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.CqEntries)) },
        { "io_uring_params.flags", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.Flags)) },
        { "io_uring_params.features", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.Features)) },
        { "io_uring_params.sq_off", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.SqOff)) },
        { "io_uring_params.cq_off", Offset<IoUringAbi.Params>(nameof(IoUringAbi.Params.CqOff)) },
        { "sizeof.io_sqring_offsets", (ulong)Unsafe.SizeOf<IoUringAbi.SqRingOffsets>() },
        { "io_sqring_offsets.head", Offset<IoUringAbi.SqRingOffsets>(nameof(IoUringAbi.SqRingOffsets.Head)) },
        { "io_sqring_offsets.tail", Offset<IoUringAbi.SqRingOffsets>(nameof(IoUringAbi.SqRingOffsets.Tail)) },
        { "io_sqring_offsets.ring_mask", Offset<IoUringAbi.SqRingOffsets>(nameof(IoUringAbi.SqRingOffsets.RingMask)) },
        { "io_sqring_offsets.array", Offset<IoUringAbi.SqRingOffsets>(nameof(IoUringAbi.SqRingOffsets.Array)) },
        { "sizeof.io_cqring_offsets", (ulong)Unsafe.SizeOf<IoUringAbi.CqRingOffsets>() },
        { "io_cqring_offsets.head", Offset<IoUringAbi.CqRingOffsets>(nameof(IoUringAbi.CqRingOffsets.Head)) },
        { "io_cqring_offsets.tail", Offset<IoUringAbi.CqRingOffsets>(nameof(IoUringAbi.CqRingOffsets.Tail)) },
        { "io_cqring_offsets.ring_mask", Offset<IoUringAbi.CqRingOffsets>(nameof(IoUringAbi.CqRingOffsets.RingMask)) },
        { "io_cqring_offsets.cqes", Offset<IoUringAbi.CqRingOffsets>(nameof(IoUringAbi.CqRingOffsets.Cqes)) },
        { "sizeof.io_uring_sqe", (ulong)Unsafe.SizeOf<IoUringAbi.Sqe>() },
        { "io_uring_sqe.opcode", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Opcode)) },
        { "io_uring_sqe.flags", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Flags)) },
        { "io_uring_sqe.ioprio", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.IoPrio)) },
        { "io_uring_sqe.fd", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Fd)) },
        { "io_uring_sqe.off", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Off)) },
        { "io_uring_sqe.addr", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Addr)) },
        { "io_uring_sqe.len", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.Len)) },
        { "io_uring_sqe.rw_flags", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.RwFlags)) },
        { "io_uring_sqe.user_data", Offset<IoUringAbi.Sqe>(nameof(IoUringAbi.Sqe.UserData)) },
        { "sizeof.io_uring_cqe", (ulong)Unsafe.SizeOf<IoUringAbi.Cqe>() },
        { "io_uring_cqe.user_data", Offset<IoUringAbi.Cqe>(nameof(IoUringAbi.Cqe.UserData)) },
        { "io_uring_cqe.res", Offset<IoUringAbi.Cqe>(nameof(IoUringAbi.Cqe.Res)) },
        { "io_uring_cqe.flags", Offset<IoUringAbi.Cqe>(nameof(IoUringAbi.Cqe.Flags)) },
        { "sizeof.io_uring_getevents_arg", (ulong)Unsafe.SizeOf<IoUringAbi.GetEventsArg>() },
        { "io_uring_getevents_arg.sigmask", Offset<IoUringAbi.GetEventsArg>(nameof(IoUringAbi.GetEventsArg.SigMask)) },
        { "io_uring_getevents_arg.sigmask_sz", Offset<IoUringAbi.GetEventsArg>(nameof(IoUringAbi.GetEventsArg.SigMaskSize)) },
        { "io_uring_getevents_arg.ts", Offset<IoUringAbi.GetEventsArg>(nameof(IoUringAbi.GetEventsArg.Ts)) },
        { "sizeof.__kernel_timespec", (ulong)Unsafe.SizeOf<IoUringAbi.KernelTimespec>() },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void Matches_the_headers(string name, ulong ours) => Assert.Equal(Headers.Value[name], ours);

    private static ulong Offset<T>(string field) => (ulong)Marshal.OffsetOf<T>(field);
}
