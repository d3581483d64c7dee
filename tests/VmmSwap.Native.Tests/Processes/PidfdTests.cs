using System.Diagnostics;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Processes;

namespace VmmSwap.Native.Tests.Processes;

/// <summary>pidfd_open and pidfd_getfd against real processes (the tests run as root, so ptrace access is granted).</summary>
public sealed class PidfdTests
{
    [Fact]
    public void A_copy_of_another_process_s_descriptor_is_the_same_open_file()
    {
        using var child = Sleeper();
        using var pidfd = Pidfd.Open(child.Id);

        using var copy = pidfd.GetFd(0);

        // Its stdin is a pipe this process created: both descriptors name the same pipe inode.
        Assert.Equal(LinkOf($"/proc/{child.Id}/fd/0"), LinkOf($"/proc/self/fd/{copy.Value}"));
        Assert.StartsWith("pipe:", LinkOf($"/proc/self/fd/{copy.Value}"), StringComparison.Ordinal);
        Kill(child);
    }

    [Fact]
    public void A_pid_with_no_process_is_refused_with_ESRCH()
    {
        // Above any pid_max (at most 2^22), so no process can have it.
        var error = Assert.Throws<NativeCallException>(() => Pidfd.Open(int.MaxValue));

        Assert.Equal("pidfd_open", error.Call);
        Assert.Equal("ESRCH", error.ErrnoName);
    }

    [Fact]
    public void A_descriptor_the_process_does_not_have_is_refused_with_EBADF()
    {
        using var child = Sleeper();
        using var pidfd = Pidfd.Open(child.Id);

        var error = Assert.Throws<NativeCallException>(() => pidfd.GetFd(4000));

        Assert.Equal("pidfd_getfd", error.Call);
        Assert.Equal("EBADF", error.ErrnoName);
        Assert.Contains($"pid {child.Id} has no descriptor 4000", error.Message, StringComparison.Ordinal);
        Kill(child);
    }

    [Fact]
    public void Once_the_process_has_exited_getfd_is_refused_with_ESRCH()
    {
        using var child = Sleeper();
        using var pidfd = Pidfd.Open(child.Id);
        Kill(child);

        var error = Assert.Throws<NativeCallException>(() => pidfd.GetFd(0));

        Assert.Equal("ESRCH", error.ErrnoName);
        Assert.Contains("has exited", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SIGSTOP_stops_every_thread_SIGCONT_resumes_them_and_a_reaped_process_is_gone()
    {
        using var child = Sleeper();
        using var pidfd = Pidfd.Open(child.Id);

        Assert.True(pidfd.SendSignal(ProcessSignal.Stop));
        Assert.True(WaitFor(() => ProcessStates.Of(child.Id) == ProcessRunState.Stopped), "the child never showed stopped");
        Assert.True(pidfd.SendSignal(ProcessSignal.Continue));
        Assert.True(WaitFor(() => ProcessStates.Of(child.Id) == ProcessRunState.Running), "the child never showed running again");

        Assert.True(pidfd.SendSignal(ProcessSignal.Kill));
        child.WaitForExit();
        Assert.False(pidfd.SendSignal(ProcessSignal.Continue));
        Assert.Equal(ProcessRunState.Gone, ProcessStates.Of(child.Id));
    }

    // Every wait waits for the state with a generous deadline.
    private static bool WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
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

    private static Process Sleeper() =>
        Process.Start(new ProcessStartInfo("sleep", ["120"]) { RedirectStandardInput = true })
            ?? throw new InvalidOperationException("sleep did not start");

    private static void Kill(Process child)
    {
        child.Kill();
        child.WaitForExit();
    }

    private static string LinkOf(string path) => new FileInfo(path).LinkTarget ?? throw new InvalidOperationException($"{path} is not a link");
}
