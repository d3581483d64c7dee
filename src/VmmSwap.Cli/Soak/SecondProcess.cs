using System.Diagnostics;
using System.Globalization;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// The parent's handle on a second process (<c>vmm-swap soak-child</c>): a stand-in for a VMM's
/// forked device process. It maps the guest's memfds at the guest's addresses, creates its own
/// userfaultfd for the parent to take with pidfd_getfd, and once told "go" reads the read-only
/// pages over and over, reporting its reads and every page that reads wrong on stdout.
/// </summary>
public sealed class SecondProcess : IDisposable
{
    private readonly Process _process;
    private readonly Action<long, ulong> _onMismatch;
    private readonly Task _stdout;
    private long _reads;
    private readonly TaskCompletionSource _firstPass = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _progressAt;
    private volatile int _readerTid;
    private volatile bool _going;

    private SecondProcess(Process process, int childUffd, Action<long, ulong> onMismatch)
    {
        _process = process;
        ChildUffd = childUffd;
        _onMismatch = onMismatch;
        _stdout = Task.Run(ReadStdoutAsync);
    }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Its userfaultfd's descriptor number in the child.</summary>
    public int ChildUffd { get; }

    /// <summary>Pages it has read and checked so far (as last reported).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>How long since it last reported progress while reading; zero before "go".</summary>
    public TimeSpan SinceProgress => _going ? Stopwatch.GetElapsedTime(Interlocked.Read(ref _progressAt)) : TimeSpan.Zero;

    /// <summary>
    /// Starts the child for <paramref name="regions"/> and waits for its userfaultfd. Every page
    /// it reports wrong goes to <paramref name="onMismatch"/> with the checksum it read.
    /// </summary>
    public static async Task<SecondProcess> StartAsync(IReadOnlyList<SharedRegion> regions, int seed, Action<long, ulong> onMismatch)
    {
        ArgumentNullException.ThrowIfNull(regions);
        var (program, prefix) = Executable();
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in prefix.Concat(["soak-child", "--parent", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture)]))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var region in regions)
        {
            start.ArgumentList.Add("--region");
            start.ArgumentList.Add(region.ToArgument());
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new SecondProcessException($"{program} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SecondProcessException($"{program} could not be started: {e.Message}", e);
        }

        try
        {
            using var deadline = new CancellationTokenSource(SoakDeadlines.Deadline);
            var line = await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false);
            var words = line?.Split(' ');
            if (words is not ["uffd", var fd] || !int.TryParse(fd, NumberStyles.None, CultureInfo.InvariantCulture, out var childUffd))
            {
                KillQuietly(process);
                var error = await process.StandardError.ReadToEndAsync(deadline.Token).ConfigureAwait(false);
                throw new SecondProcessException($"the second process handed over no userfaultfd: {(string.IsNullOrWhiteSpace(error) ? line ?? "it exited" : error.Trim())}");
            }

            return new SecondProcess(process, childUffd, onMismatch);
        }
        catch (OperationCanceledException e)
        {
            KillQuietly(process);
            process.Dispose();
            throw new SecondProcessException($"the second process printed nothing within {SoakDeadlines.Deadline.TotalSeconds} s", e);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>Takes a copy of its userfaultfd (pidfd_open + pidfd_getfd), for ProcessForked.</summary>
    public Userfaultfd TakeUffd()
    {
        using var pidfd = Pidfd.Open(Pid);
        return Userfaultfd.Adopt(pidfd.GetFd(ChildUffd));
    }

    /// <summary>Lets it start reading guest memory: only once the runtime has accepted its userfaultfd.</summary>
    public void Go()
    {
        Interlocked.Exchange(ref _progressAt, Stopwatch.GetTimestamp());
        _going = true;
        _process.StandardInput.WriteLine("go");
        _process.StandardInput.Flush();
    }

    /// <summary>
    /// Waits until it has read and checked every one of its pages once (its first report), or
    /// <paramref name="timeout"/> has passed: false then, which the watchdog reports as a hang if
    /// it stays so.
    /// </summary>
    public async Task<bool> FirstPassAsync(TimeSpan timeout)
    {
        try
        {
            await _firstPass.Task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Where in the kernel its reading thread waits now (its /proc wchan), for a hang report.</summary>
    public string WaitChannel => SoakThreads.WaitChannel(Pid, _readerTid);

    /// <summary>
    /// Watches its reader's wait channel for up to <paramref name="within"/> and SIGKILLs it the
    /// moment it is seen waiting in a userfaultfd fault; false, and alive, when it never was.
    /// </summary>
    public bool KillWhenFaulting(TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within && !_process.HasExited)
        {
            if (WaitChannel == SoakThreads.FaultWaitChannel)
            {
                KillQuietly(_process);
                return true;
            }

            // Its faults are served by the runtime's fault thread, which may need this core.
            Thread.Yield();
        }

        return false;
    }

    /// <summary>Tells it to exit (end of stdin) and waits; false when it did not exit within <paramref name="deadline"/>.</summary>
    public async Task<bool> ExitAsync(TimeSpan deadline)
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            await _stdout.WaitAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGKILLs it and waits until it is gone (its address space no longer exists).</summary>
    public async Task KillAsync()
    {
        KillQuietly(_process);
        await _process.WaitForExitAsync().ConfigureAwait(false);
        await _stdout.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        KillQuietly(_process);
        _process.WaitForExit();
        _process.Dispose();
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It had exited already: nothing left to kill.
        }
    }

    // Itself, so that no other interpreter is needed: the apphost next to this assembly, else the
    // host running this process with the assembly, else (a single-file build) this executable.
    private static (string Program, string[] Prefix) Executable()
    {
        var assembly = typeof(SecondProcess).Assembly.Location;
        if (string.IsNullOrEmpty(assembly))
        {
            return (Environment.ProcessPath!, []);
        }

        var apphost = Path.ChangeExtension(assembly, null);
        return File.Exists(apphost) ? (apphost, []) : (Environment.ProcessPath!, [assembly]);
    }

    private async Task ReadStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            switch (line.Split(' '))
            {
                case ["reader", var tid]:
                    _readerTid = int.Parse(tid, CultureInfo.InvariantCulture);
                    break;
                case ["reads" or "done", var reads]:
                    Interlocked.Exchange(ref _reads, long.Parse(reads, CultureInfo.InvariantCulture));
                    Interlocked.Exchange(ref _progressAt, Stopwatch.GetTimestamp());
                    _firstPass.TrySetResult();
                    break;
                case ["mismatch", var page, var checksum]:
                    _onMismatch(long.Parse(page, CultureInfo.InvariantCulture), ulong.Parse(checksum, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                    break;
            }
        }
    }
}
