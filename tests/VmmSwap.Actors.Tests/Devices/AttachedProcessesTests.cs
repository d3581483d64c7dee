using System.Diagnostics;
using Akka.Event;
using VmmSwap.Actors.Devices;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Devices;

/// <summary>
/// The supervisor's device-process list on real processes: freezing stops only those attached
/// with freeze, every way out resumes them (the supervisor's PostStop calls <see cref="AttachedProcesses.Close"/>),
/// and a frozen process that dies is no error.
/// </summary>
public sealed class AttachedProcessesTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public void Close_resumes_every_frozen_process_as_a_runtime_stopped_mid_enable_must()
    {
        using var frozen = Sleeper();
        using var free = Sleeper();
        var processes = new AttachedProcesses(Logging.GetLogger(Sys, "attached-processes-test"), cgroup: null);
        var a = Attached(frozen, freeze: true);
        var b = Attached(free, freeze: false);
        processes.Add(a);
        processes.Add(b);

        Assert.Equal(1, processes.FreezeAll());
        Assert.True(WaitFor(processes.AllFrozen), "the frozen process never showed stopped");
        Assert.Equal(ProcessRunState.Stopped, ProcessStates.Of(frozen.Id));
        Assert.Equal(ProcessRunState.Running, ProcessStates.Of(free.Id));

        processes.Close();
        Assert.True(WaitFor(() => ProcessStates.Of(frozen.Id) == ProcessRunState.Running), "Close did not resume the frozen process");
        Kill(frozen);
        Kill(free);

        // Close took the pidfds; the userfaultfds are the supervisor's to close.
        a.Uffd.Dispose();
        b.Uffd.Dispose();
    }

    [Fact]
    public void A_frozen_process_that_dies_counts_as_frozen_and_resuming_it_is_no_error()
    {
        using var child = Sleeper();
        var processes = new AttachedProcesses(Logging.GetLogger(Sys, "attached-processes-test"), cgroup: null);
        var process = Attached(child, freeze: true);
        processes.Add(process);
        Assert.Equal(1, processes.FreezeAll());

        Kill(child);
        Assert.True(processes.AllFrozen());
        processes.ResumeAll();
        Assert.False(process.Frozen);
        Assert.Same(process, processes.Remove(process.Uffd));
        process.Pidfd.Dispose();
        process.Uffd.Dispose();
    }

    private static AttachedProcess Attached(Process child, bool freeze) =>
        new(Userfaultfd.Create(), Pidfd.Open(child.Id), freeze) { State = AttachmentState.Attached };

    private static Process Sleeper() =>
        Process.Start(new ProcessStartInfo("sleep", ["120"]) { RedirectStandardInput = true })
            ?? throw new InvalidOperationException("sleep did not start");

    private static void Kill(Process child)
    {
        child.Kill();
        child.WaitForExit();
    }

    // Every wait waits for the state with a generous deadline.
    private static bool WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(1);
        }

        return true;
    }
}
