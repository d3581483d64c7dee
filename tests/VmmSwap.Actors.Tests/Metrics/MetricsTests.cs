using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Metrics;
using VmmSwap.Core.Pages;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Metrics;

/// <summary>
/// The runtime's meter read as a host's collector reads it (a MeterListener), checked against
/// Status on a real guest through enable, trim, swap-out and faults from every source.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task The_meters_page_counts_host_memory_fault_durations_and_jobs_agree_with_status()
    {
        const string guestId = "metrics-agree";
        using var guest = new GuestFixture(1024);
        guest.Fill(seed: 31, stride: 2);
        using var recorded = new Recorded(guestId);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: guestId);

        Assert.Empty(recorded.Gauges());
        var enabled = (await swap.EnableAsync()).Status;
        for (long page = 0; page < 64; page++)
        {
            Assert.Equal(guest.Expected[page] ?? new byte[PageSize.Bytes], guest.ReadPage(page));
        }

        await swap.TrimAsync();
        var trimmed = await swap.WaitForStateAsync(SwapState.Pending, Deadline);
        await swap.SwapOutAsync();
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        for (long page = 64; page < 512; page++)
        {
            Assert.Equal(guest.Expected[page] ?? new byte[PageSize.Bytes], guest.ReadPage(page));
        }

        var status = await swap.StatusAsync();
        var gauges = recorded.Gauges();

        // Status's counters, kind by kind, and its host-memory figures.
        var m = status.Metrics;
        Assert.Equal(m.ResidentPages, gauges[(VmmSwapMeter.Pages, "resident")]);
        Assert.Equal(m.CopiedFromFilePages, gauges[(VmmSwapMeter.Pages, "copied_from_file")]);
        Assert.Equal(m.CopiedFromStagingPages, gauges[(VmmSwapMeter.Pages, "copied_from_staging")]);
        Assert.Equal(m.ZeroedPages, gauges[(VmmSwapMeter.Pages, "zeroed")]);
        Assert.Equal(m.RedundantPages, gauges[(VmmSwapMeter.Pages, "redundant")]);
        Assert.Equal(m.StagingPages, gauges[(VmmSwapMeter.Pages, "staging")]);
        Assert.Equal(m.SwapPages, gauges[(VmmSwapMeter.Pages, "swap")]);
        var held = Assert.IsType<HostMemoryUse>(status.HostMemory);
        Assert.Equal((long)PageSize.PagesToBytes(m.ResidentPages), held.GuestResidentBytes);
        Assert.Equal(held.GuestResidentBytes, gauges[(VmmSwapMeter.HostMemory, "guest_resident")]);
        Assert.Equal(held.StagingBytes, gauges[(VmmSwapMeter.HostMemory, "staging")]);
        Assert.Equal(held.SwapFileBytes, gauges[(VmmSwapMeter.HostMemory, "swap_file_disk")]);
        Assert.Equal(held.SwapFileCachedBytes, gauges[(VmmSwapMeter.HostMemory, "swap_file_cache")]);
        Assert.True(held.SwapFileBytes >= (long)PageSize.PagesToBytes(m.SwapPages), $"{held} for {m.SwapPages} swap pages");

        // Each fault once, by where its page came from; a file fault that waited for a read counts as parked.
        var faults = recorded.FaultCounts();
        Assert.Equal(m.CopiedFromStagingPages, faults.GetValueOrDefault("staging"));
        Assert.Equal(m.CopiedFromFilePages, faults.GetValueOrDefault("file") + faults.GetValueOrDefault("parked"));
        Assert.Equal(m.ZeroedPages, faults.GetValueOrDefault("zero"));
        Assert.True(m.CopiedFromStagingPages > 0 && m.CopiedFromFilePages > 0 && m.ZeroedPages > 0, $"every source served a fault: {m}");
        Assert.All(recorded.FaultDurations, us => Assert.True(us > 0, $"a fault took {us} us"));

        // Each job once, with the pages of its state transition.
        Assert.Equal(
            [("enable", enabled.StateTransition.Pages), ("trim", trimmed.StateTransition.Pages), ("swap_out", active.StateTransition.Pages)],
            recorded.Jobs.ToList());

        await swap.DisableAsync();
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Null((await swap.StatusAsync()).HostMemory);
        Assert.Empty(recorded.Gauges());
        Assert.Empty(guest.Mismatches());
    }

    // What a listener saw of one guest's measurements.
    private sealed class Recorded : IDisposable
    {
        private readonly string _guest;
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Source, double Microseconds)> _faults = new();
        private readonly ConcurrentQueue<(string Job, long Pages)> _jobs = new();
        private Dictionary<(string Instrument, string Kind), long> _gauges = [];

        internal Recorded(string guest)
        {
            _guest = guest;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == VmmSwapMeter.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                if (Tag(tags, VmmSwapMeter.GuestTag) != _guest)
                {
                    return;
                }

                if (instrument.Name == VmmSwapMeter.JobPages)
                {
                    _jobs.Enqueue((Tag(tags, VmmSwapMeter.JobTag)!, value));
                }
                else
                {
                    _gauges[(instrument.Name, Tag(tags, VmmSwapMeter.KindTag)!)] = value;
                }
            });
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            {
                if (instrument.Name == VmmSwapMeter.FaultDuration && Tag(tags, VmmSwapMeter.GuestTag) == _guest)
                {
                    _faults.Enqueue((Tag(tags, VmmSwapMeter.SourceTag)!, value));
                }
            });
            _listener.Start();
        }

        internal IEnumerable<(string Job, long Pages)> Jobs => _jobs;

        internal IEnumerable<double> FaultDurations => _faults.Select(f => f.Microseconds);

        internal Dictionary<(string Instrument, string Kind), long> Gauges()
        {
            _gauges = [];
            _listener.RecordObservableInstruments();
            return _gauges;
        }

        internal Dictionary<string, long> FaultCounts() => _faults.GroupBy(f => f.Source).ToDictionary(g => g.Key, g => (long)g.Count());

        public void Dispose() => _listener.Dispose();

        private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == name)
                {
                    return tag.Value as string;
                }
            }

            return null;
        }
    }
}
