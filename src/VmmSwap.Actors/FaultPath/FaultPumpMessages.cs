using VmmSwap.Core.Work;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.FaultPath;

/// <summary>Start reading events of <paramref name="Uffd"/> on the pump thread.</summary>
internal sealed record WatchUffd(Userfaultfd Uffd);

/// <summary>Stop reading events of <paramref name="Uffd"/> and close it.</summary>
internal sealed record UnwatchUffd(Userfaultfd Uffd);

/// <summary>Reading a userfaultfd failed on the pump thread.</summary>
internal sealed record DrainFailed(Userfaultfd Uffd, Exception Error);

/// <summary>Tell the supervisor <see cref="ProcessExited"/> for <paramref name="Uffd"/> once <paramref name="Pidfd"/> is readable (its process has exited).</summary>
internal sealed record WatchProcess(Pidfd Pidfd, Userfaultfd Uffd);

/// <summary>Stop watching <paramref name="Pidfd"/> and close it.</summary>
internal sealed record UnwatchProcess(Pidfd Pidfd);

/// <summary>Tell the PageHandler <see cref="FaultReadsCompleted"/> whenever <paramref name="Ring"/> has completed reads.</summary>
internal sealed record WatchFaultReads(FaultReadRing Ring);
