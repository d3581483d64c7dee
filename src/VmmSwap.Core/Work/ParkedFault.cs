using VmmSwap.Native.Uffd;

namespace VmmSwap.Core.Work;

/// <summary>A fault read from <paramref name="Uffd"/> whose thread waits for a <see cref="FaultRead"/> to load its page.</summary>
/// <param name="Uffd">The userfaultfd the fault was read from; its thread is woken through it.</param>
/// <param name="Address">The faulting page's address in the userfaultfd's own process (a device process maps the guest elsewhere than the host).</param>
/// <param name="ParkedAt">When it was parked (<see cref="System.Diagnostics.Stopwatch"/> ticks): the metrics time its wait from here.</param>
public readonly record struct ParkedFault(Userfaultfd Uffd, ulong Address, long ParkedAt);
