using System.Buffers.Binary;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Guest.Host;

/// <summary>
/// The control slot's memory: a memfd of its own, mapped shared for KVM. It is never registered
/// with userfaultfd, so no access to it can fault into the runtime: the host reads the guest's
/// counters and log straight from the mapping while the guest runs. Everything the host puts
/// there goes in with pwrite, like every other write into memory a guest runs on.
/// </summary>
internal sealed unsafe class ControlMemory : IDisposable
{
    internal ControlMemory(ulong size)
    {
        Size = size;
        MemFd = Native.Memory.MemFd.Create("vmm-swap guest control", (long)size);
        try
        {
            Mapping = MemoryMapping.MapShared(MemFd, 0, size, writable: true);
        }
        catch
        {
            MemFd.Dispose();
            throw;
        }
    }

    internal ulong Size { get; }

    internal SafeFd MemFd { get; }

    internal MemoryMapping Mapping { get; }

    internal void Write(ulong guestPhysical, ReadOnlySpan<byte> bytes)
    {
        Check(guestPhysical, (ulong)bytes.Length);
        FileOps.WriteAll(MemFd, bytes, (long)guestPhysical);
    }

    internal void WriteU64(ulong guestPhysical, ulong value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Write(guestPhysical, bytes);
    }

    internal void WriteU64s(ulong guestPhysical, ReadOnlySpan<ulong> values)
    {
        var bytes = new byte[values.Length * sizeof(ulong)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * sizeof(ulong)), values[i]);
        }

        Write(guestPhysical, bytes);
    }

    /// <summary>A word the guest may be writing right now: one aligned 8-byte load, never torn.</summary>
    internal ulong ReadU64(ulong guestPhysical)
    {
        Check(guestPhysical, sizeof(ulong));
        return Volatile.Read(ref *(ulong*)(Mapping.Address + (nint)guestPhysical));
    }

    internal ulong[] ReadU64s(ulong guestPhysical, int count)
    {
        Check(guestPhysical, (ulong)count * sizeof(ulong));
        var values = new ulong[count];
        new ReadOnlySpan<ulong>((void*)(Mapping.Address + (nint)guestPhysical), count).CopyTo(values);
        return values;
    }

    public void Dispose()
    {
        Mapping.Dispose();
        MemFd.Dispose();
    }

    private void Check(ulong guestPhysical, ulong length)
    {
        if (guestPhysical + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(guestPhysical), $"0x{guestPhysical:X}+0x{length:X} is outside the control slot (0x{Size:X} bytes)");
        }
    }
}
