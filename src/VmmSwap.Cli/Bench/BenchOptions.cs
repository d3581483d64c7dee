using VmmSwap.Actors.Hosting;

namespace VmmSwap.Cli.Bench;

/// <summary>What <c>vmm-swap bench</c> runs.</summary>
/// <param name="SizesMib">Guest sizes in MiB, smallest first.</param>
/// <param name="Rounds">Rounds per size; every figure is the median over rounds.</param>
/// <param name="SwapDirectory">Directory of the swap files (ours and the native reference's).</param>
/// <param name="Json">Print one JSON document instead of tables.</param>
/// <param name="Kvm">Run only the KVM guest case (<see cref="KvmBench"/>) instead of the sizes.</param>
/// <param name="KvmPages">Pages each KVM case touches (the tests' smoke run takes fewer).</param>
/// <param name="FaultReadPages">The runtime's <c>fault-read-pages</c>; null keeps its default.</param>
/// <param name="FaultPollMaxUs">The runtime's <c>fault-poll-max</c> in microseconds (0: polling off); null keeps its default.</param>
/// <param name="FaultReadsIoUring">The runtime's <c>fault-reads-io-uring</c>; null keeps its default.</param>
/// <param name="Only">One case to run alone (<see cref="MultiThreadFaults.Only"/>); null runs them all.</param>
internal sealed record BenchOptions(IReadOnlyList<int> SizesMib, int Rounds, string SwapDirectory, bool Json, bool Kvm = false, int KvmPages = KvmBench.Pages, int? FaultReadPages = null, string? Only = null, int? FaultPollMaxUs = null, bool? FaultReadsIoUring = null)
{
    /// <summary>Pages faulted per (source, order) case, at most.</summary>
    internal const int MaxFaultPages = 8192;

    /// <summary>Pages of the trim mix (30% zero, 30% clean, 40% dirty), at most.</summary>
    internal const int MaxTrimMixPages = 32768;

    /// <summary>Smallest guest of the during-job pass, so that each job lasts long enough to fault during it.</summary>
    internal const int MinJobGuestMib = 512;

    /// <summary>How long the guest touches nothing after the fault blocks while the fault thread's CPU is measured.</summary>
    internal static readonly TimeSpan IdleGuest = TimeSpan.FromSeconds(1);

    /// <summary>The runtime's options for the run: its defaults, with the swap directory and the runtime settings given.</summary>
    internal VmmSwapOptions RuntimeOptions()
    {
        var defaults = new VmmSwapOptions();
        return defaults with
        {
            SwapDirectory = SwapDirectory,
            FaultReadPages = FaultReadPages ?? defaults.FaultReadPages,
            FaultPollMax = FaultPollMaxUs is { } us ? TimeSpan.FromMicroseconds(us) : defaults.FaultPollMax,
            FaultReadsIoUring = FaultReadsIoUring ?? defaults.FaultReadsIoUring,
        };
    }
}
