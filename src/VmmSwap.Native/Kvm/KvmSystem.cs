using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Kvm;

/// <summary>
/// An open /dev/kvm whose API version is checked: creates VMs. Thin: it reports what the kernel
/// says, typed; what to run is the caller's job.
/// </summary>
public sealed class KvmSystem : IDisposable
{
    /// <summary>Where KVM's device node lives.</summary>
    public const string DevicePath = "/dev/kvm";

    private const string ModuleFix =
        "load KVM: 'modprobe kvm' and then the module for this CPU or hypervisor ('modprobe kvm_intel', " +
        "'modprobe kvm_amd', or 'modprobe kvm_pvm' inside a VM without nested virtualization), " +
        "with virtualization enabled in the firmware or nested virtualization enabled by the host";

    private const string PermissionFix =
        "run as root or grant this user read/write access to /dev/kvm (e.g. add it to the 'kvm' group)";

    private KvmSystem(SafeFd fd, int vcpuMmapSize)
    {
        Fd = fd;
        VcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>The /dev/kvm descriptor.</summary>
    public SafeFd Fd { get; }

    /// <summary>The size of each vCPU's shared <c>kvm_run</c> area (KVM_GET_VCPU_MMAP_SIZE).</summary>
    public int VcpuMmapSize { get; }

    /// <summary>
    /// Opens /dev/kvm and checks it speaks API version 12. Throws <see cref="KvmUnavailableException"/>
    /// naming the cause and the fix when it is missing, refused or of another version.
    /// </summary>
    public static KvmSystem Open() => Open(DevicePath);

    /// <summary>Opens <paramref name="devicePath"/>; tests point it elsewhere to see the refusal path.</summary>
    internal static KvmSystem Open(string devicePath)
    {
        var raw = Libc.Open(devicePath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (raw < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                Libc.ENOENT or Libc.ENXIO or Libc.ENODEV => new KvmUnavailableException(
                    $"open({devicePath})", errno, $"{devicePath} is missing or has no driver behind it: {ModuleFix}"),
                Libc.EACCES or Libc.EPERM => new KvmUnavailableException(
                    $"open({devicePath})", errno, $"{devicePath} was refused: {PermissionFix}"),
                _ => new NativeCallException($"open({devicePath})", errno),
            };
        }

        var fd = new SafeFd(raw);
        try
        {
            var version = Libc.Ioctl(fd.Value, KvmAbi.GetApiVersion, 0);
            if (version < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new KvmUnavailableException(
                    "ioctl(KVM_GET_API_VERSION)", errno, $"{devicePath} is not a KVM device: {ModuleFix}");
            }

            if (version != KvmAbi.ApiVersion)
            {
                throw new KvmUnavailableException(
                    "ioctl(KVM_GET_API_VERSION)",
                    Libc.EOPNOTSUPP,
                    $"{devicePath} speaks KVM API version {version}, version {KvmAbi.ApiVersion} is needed (every Linux since 2.6.22)");
            }

            var mmapSize = Libc.Ioctl(fd.Value, KvmAbi.GetVcpuMmapSize, 0);
            if (mmapSize < 0)
            {
                throw NativeCallException.FromLastError("ioctl(KVM_GET_VCPU_MMAP_SIZE)");
            }

            return new KvmSystem(fd, mmapSize);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Creates a VM of the default machine type (KVM_CREATE_VM with type 0): no memory, no vCPUs yet.</summary>
    public KvmVm CreateVm()
    {
        var fd = SafeFd.Check(Libc.Ioctl(Fd.Value, KvmAbi.CreateVm, 0), "ioctl(KVM_CREATE_VM)");
        return new KvmVm(fd, VcpuMmapSize);
    }

    /// <inheritdoc />
    public void Dispose() => Fd.Dispose();
}
