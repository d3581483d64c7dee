namespace VmmSwap.Native.Kvm;

/// <summary>
/// The <c>mmio</c> member of <c>kvm_run</c> after a <see cref="KvmExitReason.Mmio"/> exit: the
/// guest-physical address, the access's width, its direction and, for a store, the bytes stored
/// (little-endian, the first <see cref="Length"/> bytes of <see cref="Data"/>).
/// </summary>
public readonly record struct KvmMmioExit(ulong PhysicalAddress, ulong Data, uint Length, bool IsWrite);
