using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Work;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// The <c>bench</c> verb: measures our runtime against tools/native-ref/native_ref.c at each guest
/// size and reports medians, ratios and the issue's targets (reported as met or missed, never asserted).
/// Past ~300 lines because it is the verb's one place for its options, their checks and the order
/// of its cases; each case's measuring lives in a type of its own.
/// </summary>
public static class BenchCommand
{
    /// <summary>Exit code of a completed bench, whether or not the targets were met.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code of a bench that could not run or complete.</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit code of a refused command line.</summary>
    public const int ExitBadInput = 2;

    private const string IoUringReads = "io-uring";
    private const string ReaderReads = "readers";

    /// <summary>Builds the command, writing to the process console.</summary>
    public static Command Create() => Create(Console.Out, Console.Error);

    /// <summary>Builds the command; its action writes to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var sizes = new Option<string>("--sizes")
        {
            Description = "Comma-separated guest sizes in MiB (each needs about 3x its size in free RAM).",
            DefaultValueFactory = _ => "256,1024,4096",
        };
        var rounds = new Option<int>("--rounds")
        {
            Description = "Rounds per size, ours and the native reference alternating; figures are medians.",
            DefaultValueFactory = _ => 3,
        };
        var swapDir = new Option<string?>("--swap-dir")
        {
            Description = "Directory for the swap files (needs O_TMPFILE). Default: the system temp directory.",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print the report as one JSON document and no progress.",
        };
        var kvm = new Option<bool>("--kvm")
        {
            Description = "Run only the KVM case: KVM vCPUs' first touches (sequential, random) from staging, the file and zero pages, and the demand-paging rate for 1, 2 and 4 vCPUs, against native_ref driving the same guest. Needs /dev/kvm.",
        };
        var faultReadPages = new Option<int?>("--fault-read-pages")
        {
            Description = "The runtime's fault-read-pages (0: file faults read on the fault thread; 1-64: parked on reads of that many pages). Default: the runtime's.",
        };
        var faultReads = new Option<string?>("--fault-reads")
        {
            Description = $"Where the runtime's fault reads run: {IoUringReads} (started from the fault thread) or {ReaderReads} (the fault-reader threads). Default: the runtime's (fault-reads-io-uring).",
        };
        var faultPollMax = FaultPollMax.CreateOption();
        var only = new Option<string?>("--only")
        {
            Description = $"Run one case alone: {MultiThreadFaults.Only} (guest threads faulting on swapped-out pages at once). Default: every case.",
        };
        var command = new Command("bench", "Benchmark fault latency, enable, trim, swap-out, swap-in and memory overhead against a native C reference.")
        {
            sizes,
            rounds,
            swapDir,
            json,
            kvm,
            faultReadPages,
            faultReads,
            faultPollMax,
            only,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            if (!TryParseSizes(r.GetValue(sizes) ?? string.Empty, out var parsed, out var error) || r.GetValue(rounds) < 1)
            {
                await stderr.WriteLineAsync($"vmm-swap bench: {error ?? "--rounds must be at least 1"}").ConfigureAwait(false);
                return ExitBadInput;
            }

            var dir = r.GetValue(swapDir);
            dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(string.IsNullOrEmpty(dir) ? Path.GetTempPath() : dir));
            if (!Directory.Exists(dir))
            {
                await stderr.WriteLineAsync($"vmm-swap bench: --swap-dir {dir} does not exist").ConfigureAwait(false);
                return ExitBadInput;
            }

            if (r.GetValue(faultReadPages) is { } read && read is < 0 or > FaultRead.MaxPages)
            {
                await stderr.WriteLineAsync($"vmm-swap bench: --fault-read-pages must be 0 to {FaultRead.MaxPages}, got {read}").ConfigureAwait(false);
                return ExitBadInput;
            }

            if (r.GetValue(faultReads) is { } where && where is not (IoUringReads or ReaderReads))
            {
                await stderr.WriteLineAsync($"vmm-swap bench: --fault-reads must be {IoUringReads} or {ReaderReads}, got '{where}'").ConfigureAwait(false);
                return ExitBadInput;
            }

            if (FaultPollMax.Check(r.GetValue(faultPollMax)) is { } pollError)
            {
                await stderr.WriteLineAsync($"vmm-swap bench: {pollError}").ConfigureAwait(false);
                return ExitBadInput;
            }

            if (r.GetValue(only) is { } selected && selected != MultiThreadFaults.Only)
            {
                await stderr.WriteLineAsync($"vmm-swap bench: --only must be {MultiThreadFaults.Only}, got '{selected}'").ConfigureAwait(false);
                return ExitBadInput;
            }

            if (r.GetValue(kvm) && r.GetValue(only) is not null)
            {
                await stderr.WriteLineAsync("vmm-swap bench: --kvm and --only each run one case alone; give one of them").ConfigureAwait(false);
                return ExitBadInput;
            }

            return await RunAsync(new BenchOptions(parsed, r.GetValue(rounds), dir, r.GetValue(json), r.GetValue(kvm), FaultReadPages: r.GetValue(faultReadPages), Only: r.GetValue(only), FaultPollMaxUs: r.GetValue(faultPollMax), FaultReadsIoUring: r.GetValue(faultReads) is { } w ? w == IoUringReads : null), stdout, stderr, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Runs the bench and prints the report; returns the exit code.</summary>
    internal static async Task<int> RunAsync(BenchOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        try
        {
            if (options.Kvm)
            {
                var kvmReport = await KvmBench.MeasureAsync(options, options.Json ? TextWriter.Null : stderr, cancellationToken).ConfigureAwait(false);
                if (options.Json)
                {
                    await stdout.WriteLineAsync(JsonSerializer.Serialize(kvmReport, JsonOptions)).ConfigureAwait(false);
                }
                else
                {
                    kvmReport.Write(stdout);
                }

                return ExitOk;
            }

            var report = await MeasureAsync(options, options.Json ? TextWriter.Null : stderr, cancellationToken).ConfigureAwait(false);
            if (options.Json)
            {
                await stdout.WriteLineAsync(ToJson(report)).ConfigureAwait(false);
            }
            else
            {
                HumanBenchReport.Write(report, stdout);
            }

            return ExitOk;
        }
        catch (BenchException e)
        {
            await stderr.WriteLineAsync($"vmm-swap bench: {e.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
        catch (Native.Kvm.KvmUnavailableException e)
        {
            await stderr.WriteLineAsync($"vmm-swap bench: --kvm needs a usable /dev/kvm: {e.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
        catch (UserfaultfdUnavailableException e)
        {
            await stderr.WriteLineAsync($"vmm-swap bench: {e.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
        catch (OperationCanceledException)
        {
            await stderr.WriteLineAsync("vmm-swap bench: interrupted").ConfigureAwait(false);
            return ExitFailed;
        }
    }

    internal static string ToJson(BenchReport report) => JsonSerializer.Serialize(report, JsonOptions);

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    internal static async Task<BenchReport> MeasureAsync(BenchOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        await progress.WriteLineAsync("building tools/native-ref/native_ref.c ...").ConfigureAwait(false);
        using var native = await NativeReference.BuildAsync(cancellationToken).ConfigureAwait(false);
        var runtimeOptions = options.RuntimeOptions();

        // Akka's default logger writes to stdout; the report owns stdout.
        var config = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF").WithFallback(VmmSwapConfig.For(runtimeOptions));
        using var system = ActorSystem.Create("vmm-swap-bench", config);
        try
        {
            var ours = new OurRuntime(system, runtimeOptions);
            var lifeCycle = options.Only is null;
            var results = new List<SizeResult>();
            var multiThread = new List<MultiThreadResult>();
            var limits = new List<LimitResult>();
            foreach (var size in options.SizesMib)
            {
                var pages = PageSize.BytesToPages((ulong)size << 20);
                var faultPages = OurRuntime.FaultPages(pages);
                var ourRounds = new List<OurRound>();
                var nativeRounds = new List<NativeRound>();
                var ourBursts = new List<Dictionary<string, FaultBurst>>();
                var nativeBursts = new List<Dictionary<string, MultiThreadReport.NativePair>>();
                var limitRounds = new List<LimitRound>();
                async Task Ours()
                {
                    if (lifeCycle)
                    {
                        ourRounds.Add(await OursAsync(ours, size, cancellationToken).ConfigureAwait(false));
                    }

                    ourBursts.Add(await MultiThreadFaults.OursAsync(ours, pages, cancellationToken).ConfigureAwait(false));
                }

                async Task Native()
                {
                    if (lifeCycle)
                    {
                        nativeRounds.Add(await NativeAsync(native, pages, faultPages, options.SwapDirectory, cancellationToken).ConfigureAwait(false));
                        limitRounds.Add(await LimitReferences.MeasureAsync(native, pages, runtimeOptions.SwapChunkBytes, options.SwapDirectory, cancellationToken).ConfigureAwait(false));
                    }

                    nativeBursts.Add(await MultiThreadFaults.NativeAsync(native, pages, options.SwapDirectory, cancellationToken).ConfigureAwait(false));
                }

                for (var round = 0; round < options.Rounds; round++)
                {
                    await progress.WriteLineAsync($"{size} MiB, round {round + 1}/{options.Rounds} ...").ConfigureAwait(false);

                    // Alternate who goes first, so drift on a shared machine does not favour one side.
                    if (round % 2 == 0)
                    {
                        await Ours().ConfigureAwait(false);
                        await Native().ConfigureAwait(false);
                    }
                    else
                    {
                        await Native().ConfigureAwait(false);
                        await Ours().ConfigureAwait(false);
                    }
                }

                if (lifeCycle)
                {
                    results.Add(ReportBuilder.Size(size, faultPages, ourRounds, nativeRounds));
                    limits.Add(LimitReferences.Size(results[^1], limitRounds));
                }

                multiThread.Add(MultiThreadReport.Size(size, pages, ourBursts, nativeBursts));
            }

            return new BenchReport(
                Machine(),
                options.SizesMib,
                options.Rounds,
                options.SwapDirectory,
                FaultPollMax.Microseconds(runtimeOptions.FaultPollMax),
                new NativeInfo(true, native.Compiler, native.Source),
                [.. Notes(), FaultReadsNote(runtimeOptions), .. LimitReferences.Notes(limits, runtimeOptions.SwapChunkBytes)],
                results,
                multiThread,
                limits,
                results.Count > 0 ? ReportBuilder.Growth(results) : [],
                [.. ReportBuilder.Targets(results), .. LimitReferences.Targets(limits), .. MultiThreadReport.Targets(multiThread)]);
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    private static string FaultReadsNote(Actors.Hosting.VmmSwapOptions options) => options.FaultReadsIoUring
        ? "fault reads: started on an io_uring from the fault thread (fault-reads-io-uring = on; the runtime logs a warning and uses its fault readers where the kernel refuses io_uring)"
        : $"fault reads: on the runtime's {options.FaultReaders} fault-reader threads (fault-reads-io-uring = off)";

    private static List<string> Notes() =>
    [
        $"fault latency: a dedicated guest thread times the first 8-byte GuestMemory.Read of each page; at most {BenchOptions.MaxFaultPages} pages (32 MiB) per source/order case, 1/16 of the guest at small sizes; native_ref fault gets the same page count",
        "staging faults: after Enable; zero faults: never-written pages after Enable; file faults: after Enable + SwapOut",
        $"fault thread CPU: CPU time of the runtime's fault pump thread(s) from {FaultThreadCpu.Source}, in ms per second of guest time: faulting = over the six fault blocks / their wall-clock time; idle = over {BenchOptions.IdleGuest.TotalSeconds:0} s right after the file faults with the guest touching nothing",
        $"trim: on at most {BenchOptions.MaxTrimMixPages} pages (128 MiB) faulted back after swap-out as 30% zero, 30% clean (read only), 40% dirty, plus the fault blocks; pages/s = staged pages / trim time",
        "swap-out / swap-in GiB/s: pages of the state transition / time from command to the state reached (the supervisor answers AwaitState on the transition; no polling)",
        "swap-out references: plain pwrite into the page cache (the issue's reference) and pwrite + writeback + fdatasync + FADV_DONTNEED (the flush the runtime does before it reports Active); swap-in reference: pread + UFFDIO_COPY of a file flushed and dropped from the page cache, as the runtime's swap-out leaves it",
        $"faults during jobs: random order, on a guest of at least {BenchOptions.MinJobGuestMib} MiB, compared with idle random faults from the same source on the same guest; reads under {GuestThread.NoFaultMicroseconds} us found their page already in (the job got there first) and are not counted; swap-in faults are timed on the block it reaches last",
        $"working set: a seeded random 1/16 of the guest's pages (at most {BenchOptions.MaxFaultPages}; guest {BenchOptions.MinJobGuestMib}-1024 MiB) touched while swapped out, everything swapped out again, then touched again right after Disable; touch time from Disable sent to the last page touched, faults = touches slower than {GuestThread.NoFaultMicroseconds} us; never swapped = the same touches on plain memory; sequential = working-set-first off; prefetched = Prefetch run to its end while Active (its time shown apart), then Disable",
        $"multi-thread file faults: after Enable + SwapOut of a guest of as many pages as one fault case (cut to whole shares), {string.Join(", ", MultiThreadFaults.ThreadCounts)} guest threads released together each fault on their own share, seq or random (1 thread: the baseline on the same file, no target); latencies of all threads merged, wall time from release to the last fault; native_ref fault-threads the same on a file flushed and dropped from the page cache, served by one uffd and handler thread, and by one uffd and handler thread per thread's share",
        "memory: managed heap = GC.GetTotalMemory(true) after Enable / at Active minus after Start; RssAnon likewise (VmRSS counts the guest and staging memfd mappings, so it is shown as before/after, not as overhead); host released = 1 - (guest + staging memfd allocated bytes at Active) / (guest allocated before Enable); the staging and zero fault blocks are faulted back before swap-out and stay resident",
    ];

    private static async Task<OurRound> OursAsync(OurRuntime ours, int size, CancellationToken cancellationToken)
    {
        var round = new OurRound();
        await ours.LifeCycleAsync(size, round, cancellationToken).ConfigureAwait(false);
        await ours.DuringJobsAsync(size, round, cancellationToken).ConfigureAwait(false);
        await ours.WorkingSetAsync(size, round, cancellationToken).ConfigureAwait(false);
        return round;
    }

    private static async Task<NativeRound> NativeAsync(NativeReference native, long pages, long faultPages, string swapDir, CancellationToken cancellationToken)
    {
        var faults = new Dictionary<string, Latency>();
        foreach (var (source, order) in ReportBuilder.FaultCases)
        {
            faults[$"{source}/{order}"] = await native.FaultAsync(faultPages, source, order, swapDir, cancellationToken).ConfigureAwait(false);
        }

        return new NativeRound(
            faults,
            await native.ThroughputAsync("enable", pages, swapDir, cancellationToken).ConfigureAwait(false),
            await native.ThroughputAsync("swapout", pages, swapDir, cancellationToken).ConfigureAwait(false),
            await native.ThroughputAsync("swapout-flush", pages, swapDir, cancellationToken).ConfigureAwait(false),
            await native.ThroughputAsync("swapin", pages, swapDir, cancellationToken).ConfigureAwait(false));
    }

    internal static MachineInfo Machine()
    {
        long memory = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                memory = long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
                break;
            }
        }

        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        return new MachineInfo(Environment.ProcessorCount, memory, kernel, cpu);
    }

    private static bool TryParseSizes(string text, out List<int> sizes, out string? error)
    {
        sizes = [];
        error = null;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var mib) || mib < 16 || mib % 2 != 0)
            {
                error = $"--sizes: '{part}' is not an even number of MiB of at least 16";
                return false;
            }

            sizes.Add(mib);
        }

        if (sizes.Count == 0)
        {
            error = "--sizes needs at least one size";
            return false;
        }

        sizes.Sort();
        return true;
    }
}
