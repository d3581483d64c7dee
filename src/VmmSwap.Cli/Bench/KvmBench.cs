using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Guest.Host;

namespace VmmSwap.Cli.Bench;

/// <summary>
/// The KVM case of the bench: KVM vCPUs running the guest program touch every page of a fresh
/// guest once, sequentially or in a random order, with the pages in staging (after Enable), in
/// the swap file (after Enable and SwapOut) or never written (zero pages). The guest times each
/// first touch with rdtsc; the demand-paging rate is the pages over the run's wall time.
/// </summary>
internal static class KvmBench
{
    /// <summary>Pages each case touches: 64 MiB, shared out among the vCPUs.</summary>
    internal const int Pages = 16384;

    internal static readonly string[] Sources = ["staging", "file", "zero"];
    internal static readonly string[] Orders = ["seq", "random"];
    internal static readonly int[] VcpuCounts = [1, 2, 4];

    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);

    /// <summary>Every case, rounds alternating ours and native_ref first, medians over the rounds.</summary>
    internal static async Task<KvmBenchReport> MeasureAsync(BenchOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        await progress.WriteLineAsync("building tools/native-ref/native_ref.c ...").ConfigureAwait(false);
        using var native = await NativeReference.BuildAsync(cancellationToken).ConfigureAwait(false);
        var runtimeOptions = options.RuntimeOptions();

        // Akka's default logger writes to stdout; the report owns stdout.
        var config = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF").WithFallback(VmmSwapConfig.For(runtimeOptions));
        using var system = ActorSystem.Create("vmm-swap-bench-kvm", config);
        try
        {
            var cases = new List<KvmCaseResult>();
            var id = 0;
            foreach (var vcpus in VcpuCounts)
            {
                foreach (var source in Sources)
                {
                    foreach (var order in Orders)
                    {
                        var ours = new List<KvmCaseRound>();
                        var reference = new List<KvmCaseRound>();
                        for (var round = 0; round < options.Rounds; round++)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            await progress.WriteLineAsync($"KVM {vcpus} vCPU {source}/{order}, round {round + 1}/{options.Rounds} ...").ConfigureAwait(false);
                            var first = round % 2 == 0;
                            if (first)
                            {
                                ours.Add(await OursAsync(system, runtimeOptions, options.KvmPages, vcpus, source, order, $"kvm-{id++}").ConfigureAwait(false));
                            }

                            reference.Add(await native.KvmFaultAsync(options.KvmPages, source, order, vcpus, options.SwapDirectory, cancellationToken).ConfigureAwait(false));
                            if (!first)
                            {
                                ours.Add(await OursAsync(system, runtimeOptions, options.KvmPages, vcpus, source, order, $"kvm-{id++}").ConfigureAwait(false));
                            }
                        }

                        cases.Add(KvmBenchReport.Case(vcpus, source, order, ours, reference));
                    }
                }
            }

            return new KvmBenchReport(BenchCommand.Machine(), options.KvmPages, options.Rounds, options.SwapDirectory, FaultPollMax.Microseconds(runtimeOptions.FaultPollMax), KvmBenchReport.Anchor, Notes, cases);
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    private static readonly string[] Notes =
    [
        "each case: a fresh guest of the pages above, each vCPU touching its contiguous share once (random: shuffled); staging: after Enable; file: after Enable + SwapOut (the file flushed and out of the page cache); zero: never written",
        "latency: the guest's own rdtsc around the faulting load (lfence on both sides), converted with the TSC rate calibrated against the host clock",
        "pages/s: pages / wall time from the vCPUs' start to the last one done; the guest also checksums each page (512 words) after touching it, in both ours and native_ref",
        "native_ref kvm-fault: the same guest program and layout, one C handler thread doing UFFDIO_COPY from a staging memfd or the file's mapping, or UFFDIO_ZEROPAGE",
        "anchor: tools/testing/selftests/kvm/demand_paging_test, about 150K pages/s with 1 vCPU on bare metal (UFFDIO_COPY from a buffer); this machine is nested (PVM, shadow paging)",
    ];

    /// <summary>One round of (vCPUs, source, order) on our runtime.</summary>
    internal static async Task<KvmCaseRound> OursAsync(ActorSystem system, VmmSwapOptions options, int pages, int vcpus, string source, string order, string name)
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(pages));
        if (source != "zero")
        {
            Fill(guest);
        }

        using var host = KvmGuestHost.Create(guest, Shares(pages, vcpus, order));
        var swap = SwapController.Start(system, guest, options, name);
        try
        {
            await swap.EnableAsync().WaitAsync(Deadline).ConfigureAwait(false);
            if (source == "file")
            {
                await swap.SwapOutAsync().WaitAsync(Deadline).ConfigureAwait(false);
                await swap.WaitForStateAsync(SwapState.Active, Deadline).ConfigureAwait(false);
            }

            var clock = Stopwatch.StartNew();
            var results = await Task.Run(() => host.Start([.. Enumerable.Range(0, vcpus).Select(v => (long)host.Pages(v).Count)], sweeps: 1).WaitUntilDone(Deadline)).ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            var touches = results.Sum(r => r.FirstTouches);
            if (touches != pages || results.Any(r => r.Mismatches != 0))
            {
                throw new BenchException($"KVM {source}/{order} with {vcpus} vCPUs: {touches} first touches of {pages} pages, {results.Sum(r => r.Mismatches)} mismatches");
            }

            var micros = results.SelectMany(r => r.FirstTouchMicroseconds).ToArray();
            return new KvmCaseRound(Latency.Of(micros, micros.Length), touches / seconds);
        }
        finally
        {
            await swap.ExitAsync().WaitAsync(Deadline).ConfigureAwait(false);
        }
    }

    // Each vCPU its own contiguous part of the guest; in random order, each part shuffled (seeded).
    private static List<IReadOnlyList<long>> Shares(int pages, int vcpus, string order)
    {
        var shares = new List<IReadOnlyList<long>>();
        for (var v = 0; v < vcpus; v++)
        {
            var share = Enumerable.Range(pages * v / vcpus, (pages * (v + 1) / vcpus) - (pages * v / vcpus)).Select(p => (long)p).ToArray();
            if (order == "random")
            {
                new Random(1 + v).Shuffle(share);
            }

            shares.Add(share);
        }

        return shares;
    }

    private static void Fill(GuestMemory guest)
    {
        var random = new Random(7);
        var chunk = new byte[256 * PageSize.Bytes];
        for (long p = 0; p < guest.PageCount; p += 256)
        {
            random.NextBytes(chunk);
            guest.Write(guest.PageAddress(p), chunk);
        }
    }
}
