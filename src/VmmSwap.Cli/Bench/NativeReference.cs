using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace VmmSwap.Cli.Bench;

/// <summary>tools/native-ref/native_ref.c, built with the machine's cc and run once per measurement.</summary>
internal sealed class NativeReference : IDisposable
{
    private readonly string _directory;

    private NativeReference(string directory, string binary, string source, string compiler)
    {
        _directory = directory;
        Binary = binary;
        Source = source;
        Compiler = compiler;
    }

    internal string Binary { get; }

    internal string Source { get; }

    internal string Compiler { get; }

    /// <summary>Finds the repository, builds native_ref into a fresh temporary directory, or throws saying why not.</summary>
    internal static async Task<NativeReference> BuildAsync(CancellationToken cancellationToken)
    {
        var root = FindRepositoryRoot();
        var source = Path.Combine(root, "tools", "native-ref", "native_ref.c");
        if (!File.Exists(source))
        {
            throw new BenchException($"the native reference source {source} is missing");
        }

        var compiler = FindOnPath("cc") ?? throw new BenchException("no C compiler: 'cc' is not on PATH; the bench builds tools/native-ref/native_ref.c with it (install gcc or clang, e.g. apt-get install gcc)");
        var directory = Directory.CreateTempSubdirectory("vmm-swap-bench-").FullName;
        var binary = Path.Combine(directory, "native_ref");
        var (exit, _, stderr) = await RunAsync(compiler, ["-O2", "-pthread", "-o", binary, source], cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            Directory.Delete(directory, recursive: true);
            throw new BenchException($"cc failed to build {source} (exit {exit}): {stderr.Trim()}");
        }

        return new NativeReference(directory, binary, source, compiler);
    }

    internal async Task<Latency> FaultAsync(long pages, string source, string order, string swapDirectory, CancellationToken cancellationToken)
    {
        using var json = await InvokeAsync(["fault", Number(pages), source, order, swapDirectory], cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        return new Latency(root.GetProperty("p50_us").GetDouble(), root.GetProperty("p99_us").GetDouble(), root.GetProperty("max_us").GetDouble(), root.GetProperty("faults").GetInt64());
    }

    /// <summary>
    /// native_ref kvm-fault: the same guest program (written to a file in its directory) on KVM
    /// vCPUs laid out as VmmSwap.Guest lays them out, its faults served by a C handler thread.
    /// </summary>
    internal async Task<KvmCaseRound> KvmFaultAsync(long pages, string source, string order, int vcpus, string swapDirectory, CancellationToken cancellationToken)
    {
        var program = Path.Combine(_directory, "guest-program.bin");
        if (!File.Exists(program))
        {
            await File.WriteAllBytesAsync(program, VmmSwap.Guest.Program.GuestProgram.Assemble(), cancellationToken).ConfigureAwait(false);
        }

        using var json = await InvokeAsync(["kvm-fault", Number(pages), source, order, Number(vcpus), swapDirectory, program], cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        if (root.GetProperty("mismatches").GetInt64() != 0)
        {
            throw new BenchException($"native_ref kvm-fault {source}/{order} with {vcpus} vCPUs: the guest read {root.GetProperty("mismatches").GetInt64()} pages back wrong");
        }

        return new KvmCaseRound(
            new Latency(root.GetProperty("p50_us").GetDouble(), root.GetProperty("p99_us").GetDouble(), root.GetProperty("max_us").GetDouble(), root.GetProperty("faults").GetInt64()),
            root.GetProperty("pages_per_s").GetDouble());
    }

    /// <summary>
    /// native_ref fault-threads: <paramref name="threads"/> guest threads faulting at once on
    /// <paramref name="pages"/> swapped-out pages, served by one uffd and handler thread, or by one
    /// per thread's share when <paramref name="uffdPerThread"/>.
    /// </summary>
    internal async Task<FaultBurst> FaultThreadsAsync(long pages, int threads, string order, string swapDirectory, bool uffdPerThread, CancellationToken cancellationToken)
    {
        using var json = await InvokeAsync(["fault-threads", Number(pages), Number(threads), order, swapDirectory, uffdPerThread ? "per-thread" : "one"], cancellationToken).ConfigureAwait(false);
        var root = json.RootElement;
        return new FaultBurst(
            root.GetProperty("p50_us").GetDouble(),
            root.GetProperty("p99_us").GetDouble(),
            root.GetProperty("max_us").GetDouble(),
            root.GetProperty("faults").GetInt64(),
            root.GetProperty("seconds").GetDouble(),
            root.GetProperty("pages_per_s").GetDouble());
    }

    /// <summary>GiB/s of native_ref enable, swapout, swapout-flush or swapin.</summary>
    internal async Task<double> ThroughputAsync(string mode, long pages, string swapDirectory, CancellationToken cancellationToken)
    {
        string[] args = mode == "enable" ? [mode, Number(pages)] : [mode, Number(pages), swapDirectory];
        using var json = await InvokeAsync(args, cancellationToken).ConfigureAwait(false);
        return json.RootElement.GetProperty("gib_per_s").GetDouble();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
    }

    /// <summary>Runs native_ref with <paramref name="args"/> and parses the one JSON object it prints, or throws with its stderr.</summary>
    internal async Task<JsonDocument> InvokeAsync(string[] args, CancellationToken cancellationToken)
    {
        var (exit, stdout, stderr) = await RunAsync(Binary, args, cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            throw new BenchException($"native_ref {string.Join(' ', args)} failed (exit {exit}): {stderr.Trim()}");
        }

        return JsonDocument.Parse(stdout);
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new BenchException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string FindRepositoryRoot()
    {
        // Above the binary first (a build in the repository), then above the working directory.
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "VmmSwap.Actors.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new BenchException($"cannot find the repository (VmmSwap.Actors.sln) above {AppContext.BaseDirectory} or the working directory; the bench needs tools/native-ref/native_ref.c from it");
    }
}

/// <summary>The bench could not run; the message says why.</summary>
internal sealed class BenchException(string message) : Exception(message);
