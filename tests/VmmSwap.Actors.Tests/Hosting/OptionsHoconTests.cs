using System.Reflection;
using Akka.Configuration;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;

namespace VmmSwap.Actors.Tests.Hosting;

/// <summary>
/// Each option's default is written once, in the embedded hocon/vmm-swap.hocon: the options in
/// code are that file's, options written as HOCON read back equal, and every bad value names its key.
/// </summary>
public sealed class OptionsHoconTests
{
    // Every option a host sets, each away from its default (checked below, so a new option
    // without a value here fails rather than going untested).
    private static readonly VmmSwapOptions NonDefault = new()
    {
        SwapDirectory = "/var/tmp/vm \"one\"\\swap\té",
        PageWorkerCount = 3,
        PageWorkerNice = 17,
        SwapChunkBytes = 3 * (ulong)PageSize.Bytes,
        SwapInStepBytes = 5 * (ulong)PageSize.Bytes,
        TrimChunkPages = 77,
        ShutdownTimeout = TimeSpan.FromMinutes(3) + TimeSpan.FromTicks(7),
        FaultReadPages = 3,
        FaultReaders = 5,
        FaultReadsIoUring = false,
        WorkingSetFirst = true,
        FreezeCgroup = "/sys/fs/cgroup/vm \"one\"\\devices",
        FaultPollMax = TimeSpan.FromMicroseconds(37),
    };

    public static TheoryData<string> OptionSets => [nameof(VmmSwapOptions), nameof(NonDefault)];

    [Fact]
    public void The_defaults_in_code_are_the_embedded_hocons()
    {
        var embedded = ConfigurationFactory.ParseString(ReadEmbeddedHocon());

        Assert.Equal(VmmSwapOptions.FromConfig(embedded), new VmmSwapOptions());
        Assert.Equal(VmmSwapOptions.FromConfig(Config.Empty), new VmmSwapOptions());
        Assert.Equal(TimeSpan.FromMinutes(10), new VmmSwapOptions().ShutdownTimeout);
        Assert.Equal(2 * 1024 * 1024UL, new VmmSwapOptions().SwapChunkBytes);
    }

    [Fact]
    public void The_embedded_hocon_has_exactly_the_keys_the_options_write()
    {
        var embedded = ConfigurationFactory.ParseString(ReadEmbeddedHocon()).GetConfig(VmmSwapOptions.Section);
        var written = ConfigurationFactory.ParseString(new VmmSwapOptions().ToHocon()).GetConfig(VmmSwapOptions.Section);

        // The dispatcher and mailbox sections are the runtime's, not options.
        var optionKeys = embedded.AsEnumerable().Where(e => !e.Value.IsObject()).Select(e => e.Key).Order();
        Assert.Equal(optionKeys, written.AsEnumerable().Select(e => e.Key).Order());
    }

    [Theory]
    [MemberData(nameof(OptionSets))]
    public void Options_written_as_hocon_read_back_equal(string set)
    {
        var options = set == nameof(NonDefault) ? NonDefault : new VmmSwapOptions();

        var read = VmmSwapOptions.FromConfig(ConfigurationFactory.ParseString(options.ToHocon()));

        Assert.Equal(options, read);
    }

    [Fact]
    public void The_non_default_set_sets_every_option()
    {
        var defaults = new VmmSwapOptions();
        var settable = typeof(VmmSwapOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToList();

        Assert.Equal(13, settable.Count);
        Assert.All(settable, p => Assert.NotEqual(p.GetValue(defaults), p.GetValue(NonDefault)));
    }

    [Fact]
    public void An_actor_systems_config_for_options_gives_those_options_back()
    {
        var config = VmmSwapConfig.For(NonDefault);

        Assert.Equal(NonDefault, VmmSwapOptions.FromConfig(config));
        Assert.Equal(NonDefault.ResolvedPageWorkerCount, config.GetInt($"{VmmSwapConfig.PageWorkerDispatcher}.dedicated-thread-pool.thread-count"));
        Assert.Equal(NonDefault.ShutdownTimeout, config.GetTimeSpan("akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout"));
        Assert.Equal(NonDefault.FaultPollMax, config.GetTimeSpan($"{VmmSwapConfig.FaultPumpDispatcher}.poll-max"));
    }

    [Fact]
    public void The_embedded_hocon_leaves_the_page_worker_thread_count_to_the_options()
    {
        Assert.False(VmmSwapConfig.Default.HasPath($"{VmmSwapConfig.PageWorkerDispatcher}.dedicated-thread-pool.thread-count"));
        Assert.Equal(Environment.ProcessorCount, VmmSwapConfig.For(new VmmSwapOptions()).GetInt($"{VmmSwapConfig.PageWorkerDispatcher}.dedicated-thread-pool.thread-count"));
    }

    [Theory]
    [InlineData("vmm-swap.page-workers = lots", "vmm-swap.page-workers")]
    [InlineData("vmm-swap.page-worker-nice = [1, 2]", "vmm-swap.page-worker-nice")]
    [InlineData("vmm-swap.swap-chunk-size = -4096", "vmm-swap.swap-chunk-size")]
    [InlineData("vmm-swap.swap-in-step-size = 1.5", "vmm-swap.swap-in-step-size")]
    [InlineData("vmm-swap.trim-chunk-pages = 99999999999999999999", "vmm-swap.trim-chunk-pages")]
    [InlineData("vmm-swap.shutdown-timeout = soon", "vmm-swap.shutdown-timeout")]
    [InlineData("vmm-swap.shutdown-timeout = infinite", "vmm-swap.shutdown-timeout")]
    [InlineData("vmm-swap.page-workers = { count = 2 }", "vmm-swap.page-workers")]
    [InlineData("vmm-swap.fault-read-pages = 65", "vmm-swap.fault-read-pages")]
    [InlineData("vmm-swap.fault-read-pages = -1", "vmm-swap.fault-read-pages")]
    [InlineData("vmm-swap.fault-readers = 0", "vmm-swap.fault-readers")]
    [InlineData("vmm-swap.working-set-first = perhaps", "vmm-swap.working-set-first")]
    [InlineData("vmm-swap.fault-reads-io-uring = maybe", "vmm-swap.fault-reads-io-uring")]
    [InlineData("vmm-swap.swap-dir = [a, b]", "vmm-swap.swap-dir")]
    [InlineData("vmm-swap.freeze-cgroup = { path = x }", "vmm-swap.freeze-cgroup")]
    [InlineData("vmm-swap.freeze-cgroup = devices", "vmm-swap.freeze-cgroup")]
    [InlineData("vmm-swap.fault-poll-max = -5 microseconds", "vmm-swap.fault-poll-max")]
    [InlineData("vmm-swap.fault-poll-max = 1s", "vmm-swap.fault-poll-max")]
    [InlineData("vmm-swap.fault-poll-max = briefly", "vmm-swap.fault-poll-max")]
    [InlineData("vmm-swap.freeze-cgroup = \"../cgroup\"", "vmm-swap.freeze-cgroup")]
    public void A_value_that_is_not_of_its_keys_type_is_refused_naming_the_key(string hocon, string key)
    {
        var error = Assert.Throws<ArgumentException>(() => VmmSwapOptions.FromConfig(ConfigurationFactory.ParseString(hocon)));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    private static string ReadEmbeddedHocon()
    {
        using var stream = typeof(VmmSwapConfig).Assembly.GetManifestResourceStream("vmm-swap.hocon")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
