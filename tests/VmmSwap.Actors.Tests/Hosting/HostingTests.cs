using System.Globalization;
using Akka;
using Akka.Actor;
using Akka.Hosting;
using Akka.Hosting.Logging;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Storage;
using VmmSwap.Testing;

namespace VmmSwap.Actors.Tests.Hosting;

/// <summary>
/// The library contract: a host adds the runtime with
/// <c>AddAkka(..., b =&gt; b.WithVmmSwap(...))</c>, finds the supervisor in the ActorRegistry, and
/// gets Akka's log through Microsoft.Extensions.Logging into Serilog, beside the Akka loggers it
/// configured itself.
/// </summary>
public sealed class HostingTests
{
    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;

    [Fact]
    public async Task AddVmmSwap_hosts_the_runtime_in_its_own_actor_system()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 51, stride: 3);
        await using var host = await TestHost.StartAsync(guest, new InMemorySink(), "unused", s => s.AddVmmSwap(guest.Memory, SwapTestKit.Options(), "vmm-swap-added"));

        Assert.Equal("vmm-swap-added", host.Services.GetRequiredService<ActorSystem>().Name);
        var swap = new SwapController(host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>(), Deadline);
        Assert.Equal(guest.WrittenPages, (await swap.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_swap_dir_from_the_hosts_hocon_that_cannot_hold_the_swap_file_stops_the_start()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 52);
        var sink = new InMemorySink();

        var error = await Assert.ThrowsAsync<SwapDirectoryUnusableException>(() => TestHost.StartAsync(guest, sink, "unused", s => s.AddAkka("vmm-swap-hocon", akka => akka
            .AddHocon("vmm-swap.swap-dir = \"/nonexistent/hocon-swap-dir\"", HoconAddMode.Prepend)
            .WithVmmSwap(guest.Memory))));

        // The directory is the HOCON's: options come from there when not given in code.
        Assert.Equal("/nonexistent/hocon-swap-dir", error.Directory);
        Assert.Equal("ENOENT", error.ErrnoName);
        Assert.Contains("'/nonexistent/hocon-swap-dir'", error.Message, StringComparison.Ordinal);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_ramfs_swap_dir_stops_the_start_naming_hole_punching()
    {
        using var ramfs = TestMount.Create("ramfs");
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 53);

        var error = await Assert.ThrowsAsync<SwapDirectoryUnusableException>(() => TestHost.StartAsync(guest, new InMemorySink(), "unused", s => s.AddVmmSwap(guest.Memory, SwapTestKit.Options() with { SwapDirectory = ramfs.Directory }, "vmm-swap-ramfs")));

        Assert.Equal(SwapDirectoryProbeStep.PunchHole, error.Step);
        Assert.Equal("EOPNOTSUPP", error.ErrnoName);
        Assert.Contains(ramfs.Directory, error.Message, StringComparison.Ordinal);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_host_runs_vmm_swap_from_the_registry_and_logs_through_serilog()
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 50, stride: 2);
        var sink = new InMemorySink();
        await using var host = await TestHost.StartAsync(guest, sink, "vmm-swap-hosting");

        var registry = host.Services.GetRequiredService<ActorRegistry>();
        var supervisor = registry.Get<SwapSupervisor>();
        Assert.Equal("vmm-swap", supervisor.Path.Name);
        var swap = new SwapController(supervisor, Deadline);

        var enabled = await swap.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.Pending, enabled.Status.State);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());

        // The supervisor's state changes reach Serilog through the logger factory bridge.
        var pending = await sink.WaitForAsync("Ready -> Pending", Deadline);
        await sink.WaitForAsync("Pending -> SwapInInProgress", Deadline);
        await sink.WaitForAsync("SwapInInProgress -> Ready", Deadline);
        Assert.Equal(LogEventLevel.Information, pending.Level);
        Assert.Contains($"({guest.WrittenPages} pages,", pending.RenderMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.False(host.StopRequested, "the Akka hosted service failed to start and asked the host to stop");

        var system = host.Services.GetRequiredService<ActorSystem>();
        await host.StopAsync();
        await system.WhenTerminated.WaitAsync(Deadline);
    }

    [Fact]
    public async Task A_hosts_own_akka_logger_stays_and_akka_still_logs_through_the_logger_factory()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 54);
        var sink = new InMemorySink();
        await using var host = await TestHost.StartAsync(sink, s => s.AddAkka("vmm-swap-own-logger", akka => akka
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<RecordingLogger>();
            })
            .WithVmmSwap(guest.Memory, SwapTestKit.Options())));
        var system = host.Services.GetRequiredService<ActorSystem>();

        Assert.Equal([typeof(RecordingLogger), typeof(LoggerFactoryLogger)], system.Settings.Loggers.Select(l => Type.GetType(l)));
        var swap = new SwapController(host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>(), Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);

        // One log, both ways: the host's logger and Microsoft.Extensions.Logging (Serilog here).
        await RecordingLogger.WaitForAsync(system.Name, "Ready -> Pending", Deadline);
        await sink.WaitForAsync("Ready -> Pending", Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task The_hosts_log_level_stays_and_a_host_without_akka_loggers_gets_the_bridge_alone()
    {
        using var guest = new GuestFixture(16);
        await using var host = await TestHost.StartAsync(new InMemorySink(), s => s.AddAkka("vmm-swap-log-level", akka => akka
            .AddHocon("akka.loglevel = WARNING", HoconAddMode.Prepend)
            .WithVmmSwap(guest.Memory, SwapTestKit.Options())));
        var system = host.Services.GetRequiredService<ActorSystem>();

        Assert.Equal("WARNING", system.Settings.LogLevel);
        Assert.Equal([typeof(LoggerFactoryLogger)], system.Settings.Loggers.Select(l => Type.GetType(l)));
    }

    [Fact]
    public async Task The_page_worker_threads_are_as_many_as_the_page_workers_of_the_hosts_hocon()
    {
        await using var host = await TestHost.StartAsync(new InMemorySink(), s => s.AddAkka("vmm-swap-thread-count", akka => akka
            .AddHocon("vmm-swap.page-workers = 3", HoconAddMode.Prepend)
            .WithVmmSwap()));
        var config = host.Services.GetRequiredService<ActorSystem>().Settings.Config;

        Assert.Equal(3, config.GetInt($"{VmmSwapConfig.PageWorkerDispatcher}.dedicated-thread-pool.thread-count"));
        Assert.Equal(3, VmmSwapOptions.FromConfig(config).ResolvedPageWorkerCount);
    }

    [Fact]
    public async Task Stopping_the_host_while_swap_is_enabled_keeps_the_guests_data()
    {
        using var guest = new GuestFixture(48, 16);
        guest.Fill(seed: 51);
        var sink = new InMemorySink();
        await using var host = await TestHost.StartAsync(guest, sink, "vmm-swap-hosting-stop");
        var swap = new SwapController(host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>(), Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);

        var system = host.Services.GetRequiredService<ActorSystem>();
        await host.StopAsync();
        await system.WhenTerminated.WaitAsync(Deadline);

        // The guest outlives the runtime: every page must be back in it, as after Exit.
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Stopping_the_host_swaps_every_page_in_before_the_actor_system_terminates()
    {
        // A phase of the test's own between vmm-swap's and the termination: what the guest holds
        // there is what it holds when actors start stopping. The swap-in must not be left to their
        // stop, inside actor-system-terminate, whose 10 s a guest of many GiB does not fit in.
        using var guest = new GuestFixture(4096, 4096);
        guest.Fill(seed: 53);
        var sink = new InMemorySink();
        await using var host = await TestHost.StartAsync(guest, sink, "unused", s => s.AddAkka("vmm-swap-hosting-terminate", akka => akka
            .AddHocon(
                """
                akka.coordinated-shutdown.phases.guest-check.depends-on = [before-actor-system-terminate]
                akka.coordinated-shutdown.phases.actor-system-terminate.depends-on = [guest-check]
                """,
                HoconAddMode.Prepend)
            .WithVmmSwap(guest.Memory, SwapTestKit.Options())));
        var system = host.Services.GetRequiredService<ActorSystem>();
        List<long>? atTermination = null;
        CoordinatedShutdown.Get(system).AddTask("guest-check", "read-the-guest", () =>
        {
            atTermination = guest.MemFdMismatches();
            return Task.FromResult(Done.Instance);
        });
        var swap = new SwapController(host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>(), Deadline);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(0, active.Metrics.StagingPages);
        Assert.True(active.Metrics.SwapPages > 0);

        await host.StopAsync();

        // Read from the memfds, not through faults, which would bring pages back as they are read.
        Assert.NotNull(atTermination);
        Assert.Empty(atTermination);
        Assert.Empty(guest.MemFdMismatches());
        await sink.WaitForAsync($"waiting for the swap-in of {active.Metrics.SwapPages} pages (0 in staging, {active.Metrics.SwapPages} in the swap file)", Deadline);
        await system.WhenTerminated.WaitAsync(Deadline);
    }
}
