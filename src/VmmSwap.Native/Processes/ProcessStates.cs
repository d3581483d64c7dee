namespace VmmSwap.Native.Processes;

/// <summary>
/// Reads a process's run state from /proc/PID/task/*/stat. SIGSTOP stops the threads one by one
/// and nothing announces the group stop to a process that is not the parent or a tracer, so "every
/// thread is stopped" is read thread by thread.
/// </summary>
public static class ProcessStates
{
    /// <summary>The run state of process <paramref name="pid"/> now.</summary>
    public static ProcessRunState Of(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (DirectoryNotFoundException)
        {
            return ProcessRunState.Gone;
        }

        var seen = 0;
        foreach (var task in tasks)
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // A thread that exited while we looked.
                continue;
            }
            catch (IOException)
            {
                // ESRCH: the thread went while its file was read.
                continue;
            }

            seen++;
            switch (StateOf(stat))
            {
                case 'Z' or 'X':
                    return ProcessRunState.Gone;
                case not ('T' or 't'):
                    return ProcessRunState.Running;
            }
        }

        return seen == 0 ? ProcessRunState.Gone : ProcessRunState.Stopped;
    }

    // "pid (comm) S ...": comm may hold spaces and parentheses, so the state follows the last ')'.
    private static char StateOf(string stat)
    {
        var close = stat.LastIndexOf(')');
        return close >= 0 && close + 2 < stat.Length ? stat[close + 2] : '?';
    }
}
