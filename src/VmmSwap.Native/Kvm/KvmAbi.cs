namespace VmmSwap.Native.Kvm;

/// <summary>The KVM ioctl numbers this project uses (linux/kvm.h, x86_64), as the _IO/_IOR/_IOW macros encode them.</summary>
internal static class KvmAbi
{
    internal const int ApiVersion = 12;

    // System ioctls, on /dev/kvm.
    internal const ulong GetApiVersion = 0xAE00;
    internal const ulong CreateVm = 0xAE01;
    internal const ulong GetVcpuMmapSize = 0xAE04;

    // VM ioctls.
    internal const ulong CreateVcpu = 0xAE41;
    internal const ulong SetUserMemoryRegion = 0x4020AE46;

    // vCPU ioctls.
    internal const ulong Run = 0xAE80;
    internal const ulong GetRegs = 0x8090AE81;
    internal const ulong SetRegs = 0x4090AE82;
    internal const ulong GetSregs = 0x8138AE83;
    internal const ulong SetSregs = 0x4138AE84;
}
