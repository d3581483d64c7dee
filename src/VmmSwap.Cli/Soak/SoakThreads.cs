namespace VmmSwap.Cli.Soak;

/// <summary>Kernel thread ids and wait channels, from /proc: what a stuck thread is waiting for.</summary>
public static class SoakThreads
{
    /// <summary>The wait channel of a thread blocked in a userfaultfd fault.</summary>
    public const string FaultWaitChannel = "handle_userfault";

    /// <summary>The calling thread's kernel thread id (/proc/thread-self names it).</summary>
    public static int CurrentTid() => int.Parse(Path.GetFileName(new FileInfo("/proc/thread-self").LinkTarget!), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Where thread <paramref name="tid"/> of process <paramref name="pid"/> waits in the kernel; "unknown" when it cannot be read or it is gone.</summary>
    public static string WaitChannel(int pid, int tid)
    {
        if (tid == 0)
        {
            return "unknown";
        }

        try
        {
            var channel = File.ReadAllText($"/proc/{pid}/task/{tid}/wchan").Trim();
            return channel is "" or "0" ? "nothing (running)" : channel;
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
