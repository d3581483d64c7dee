using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Storage;

namespace VmmSwap.Actors.Tests.Hosting;

/// <summary>
/// Several guests in one actor system, added and removed at run time by id through
/// <see cref="VmmSwapGuests"/>, each with its own supervisor, on real guest memory.
/// </summary>
public sealed class VmmSwapGuestsTests
{
    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;

    [Fact]
    public async Task Two_guests_in_one_system_are_enabled_and_disabled_independently_with_their_data_intact()
    {
        using var first = new GuestFixture(32, 16);
        using var second = new GuestFixture(24);
        first.Fill(seed: 61);
        second.Fill(seed: 62, stride: 2);
        await using var host = await StartAsync("vmm-swap-two-guests");
        var guests = Guests(host);
        var a = guests.Add("vm-a", first.Memory);
        var b = guests.Add("vm-b", second.Memory);

        Assert.Equal(["vm-a", "vm-b"], guests.Ids);
        Assert.Equal("vmm-swap-vm-a", a.Supervisor.Path.Name);
        Assert.Equal("vmm-swap-vm-b", b.Supervisor.Path.Name);

        // a goes out to the swap file; b stays as it was.
        Assert.Equal(first.WrittenPages, (await a.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        await a.SwapOutAsync().WaitAsync(Deadline);
        var aActive = await a.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.True(aActive.Metrics.SwapPages > 0);
        var bReady = await b.StatusAsync().WaitAsync(Deadline);
        Assert.Equal(SwapState.Ready, bReady.State);
        Assert.Equal(0, bReady.Metrics.StagingPages);

        // b enabled while a is swapped out; a disabled while b is enabled.
        Assert.Equal(second.WrittenPages, (await b.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        Assert.Equal(SwapState.Active, (await a.StatusAsync().WaitAsync(Deadline)).State);
        await a.DisableAsync().WaitAsync(Deadline);
        await a.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Equal(SwapState.Pending, (await b.StatusAsync().WaitAsync(Deadline)).State);

        // Read through faults while b is enabled, then after both are disabled.
        Assert.Empty(first.Mismatches());
        Assert.Empty(second.Mismatches());
        await b.DisableAsync().WaitAsync(Deadline);
        await b.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(first.Mismatches());
        Assert.Empty(second.Mismatches());
    }

    [Fact]
    public async Task A_guest_is_added_and_removed_at_run_time()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 63);
        await using var host = await StartAsync("vmm-swap-add-remove");
        var guests = Guests(host);
        Assert.Empty(guests.Ids);

        var swap = guests.Add("vm-1", guest.Memory);
        Assert.Equal(["vm-1"], guests.Ids);
        Assert.Equal(swap.Supervisor, guests.Get("vm-1").Supervisor);
        Assert.True(guests.TryGet("vm-1", out var found));
        Assert.Equal(swap.Supervisor, found.Supervisor);
        await guests.RemoveAsync("vm-1").WaitAsync(Deadline);

        // The supervisor is gone, its name free: nothing answers at its path any more.
        var system = host.Services.GetRequiredService<ActorSystem>();
        await Assert.ThrowsAsync<ActorNotFoundException>(() => system.ActorSelection(swap.Supervisor.Path).ResolveOne(Deadline));
        Assert.Empty(guests.Ids);
        Assert.False(guests.TryGet("vm-1", out _));
        Assert.Equal("vm-1", Assert.Throws<UnknownGuestIdException>(() => guests.Get("vm-1")).Id);
        Assert.False(guests.HasExited("vm-1"));
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Removing_an_enabled_guest_swaps_every_page_back_in_first()
    {
        using var guest = new GuestFixture(64, 32);
        guest.Fill(seed: 64);
        await using var host = await StartAsync("vmm-swap-remove-enabled");
        var guests = Guests(host);
        var swap = guests.Add("vm-out", guest.Memory);
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        var active = await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.True(active.Metrics.SwapPages > 0);

        // Two removes at once share one exit.
        await Task.WhenAll(guests.RemoveAsync("vm-out"), guests.RemoveAsync("vm-out")).WaitAsync(Deadline);

        // Read from the memfds, not through faults: a page left outside the guest reads as a hole.
        Assert.Empty(guest.MemFdMismatches());
        Assert.Empty(guests.Ids);
    }

    [Fact]
    public async Task A_duplicate_or_unknown_id_is_refused_naming_it()
    {
        using var first = new GuestFixture(16);
        using var second = new GuestFixture(16);
        first.Fill(seed: 65);
        await using var host = await StartAsync("vmm-swap-ids");
        var guests = Guests(host);
        var swap = guests.Add("vm-x", first.Memory);

        var duplicate = Assert.Throws<DuplicateGuestIdException>(() => guests.Add("vm-x", second.Memory));
        Assert.Equal("vm-x", duplicate.Id);
        Assert.Contains("'vm-x'", duplicate.Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<UnknownGuestIdException>(() => guests.Get("vm-y"));
        Assert.Equal("vm-y", unknown.Id);
        Assert.Contains("'vm-y'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("vm-x", unknown.Message, StringComparison.Ordinal);
        Assert.Equal("vm-y", (await Assert.ThrowsAsync<UnknownGuestIdException>(() => guests.RemoveAsync("vm-y"))).Id);

        // The guest under the id is untouched.
        Assert.Equal(["vm-x"], guests.Ids);
        Assert.Equal(first.WrittenPages, (await swap.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(first.Mismatches());
    }

    [Theory]
    [InlineData("")]
    [InlineData("vm 1")]
    [InlineData("vm/1")]
    [InlineData("$vm")]
    [InlineData("vm#1")]
    public async Task An_id_that_cannot_be_part_of_an_actor_name_is_refused_naming_it(string id)
    {
        using var guest = new GuestFixture(16);
        await using var host = await StartAsync($"vmm-swap-bad-id-{Guid.NewGuid():N}");
        var guests = Guests(host);

        var error = Assert.Throws<ArgumentException>(() => guests.Add(id, guest.Memory));

        Assert.Contains($"'{id}'", error.Message, StringComparison.Ordinal);
        Assert.Empty(guests.Ids);
    }

    [Fact]
    public async Task A_guest_removed_and_added_again_under_the_same_id_runs_anew()
    {
        using var guest = new GuestFixture(32);
        guest.Fill(seed: 66);
        await using var host = await StartAsync("vmm-swap-re-add");
        var guests = Guests(host);
        var before = guests.Add("vm-again", guest.Memory);
        await before.EnableAsync().WaitAsync(Deadline);
        await before.SwapOutAsync().WaitAsync(Deadline);
        await before.WaitForStateAsync(SwapState.Active, Deadline);
        await guests.RemoveAsync("vm-again").WaitAsync(Deadline);

        var after = guests.Add("vm-again", guest.Memory);

        Assert.Equal("vmm-swap-vm-again", after.Supervisor.Path.Name);
        Assert.NotEqual(before.Supervisor, after.Supervisor);
        var enabled = await after.EnableAsync().WaitAsync(Deadline);
        Assert.Equal(guest.WrittenPages, enabled.Status.Metrics.StagingPages);
        await after.SwapOutAsync().WaitAsync(Deadline);
        await after.WaitForStateAsync(SwapState.Active, Deadline);
        await after.DisableAsync().WaitAsync(Deadline);
        await after.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task A_guest_exited_through_its_controller_leaves_the_list_and_its_id_is_free()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 67);
        await using var host = await StartAsync("vmm-swap-exited");
        var guests = Guests(host);
        await guests.Add("vm-exit", guest.Memory).ExitAsync().WaitAsync(Deadline);

        var until = DateTime.UtcNow + Deadline;
        while (guests.Ids.Count > 0)
        {
            Assert.True(DateTime.UtcNow < until, "an exited guest stayed listed");
            await Task.Delay(10);
        }

        // Remembered as exited (the control socket says runtime_stopped) until it is added again.
        Assert.True(guests.HasExited("vm-exit"));
        var again = guests.Add("vm-exit", guest.Memory);
        Assert.False(guests.HasExited("vm-exit"));
        Assert.Equal(SwapState.Ready, (await again.StatusAsync().WaitAsync(Deadline)).State);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Each_add_checks_its_swap_dir_and_a_refused_add_leaves_the_id_free()
    {
        using var guest = new GuestFixture(16);
        guest.Fill(seed: 68);
        await using var host = await StartAsync("vmm-swap-add-probe");
        var guests = Guests(host);

        var error = Assert.Throws<SwapDirectoryUnusableException>(() => guests.Add("vm-dir", guest.Memory, SwapTestKit.Options() with { SwapDirectory = "/nonexistent/guest-swap-dir" }));

        Assert.Equal("/nonexistent/guest-swap-dir", error.Directory);
        Assert.Empty(guests.Ids);
        var swap = guests.Add("vm-dir", guest.Memory);
        Assert.Equal(guest.WrittenPages, (await swap.EnableAsync().WaitAsync(Deadline)).Status.Metrics.StagingPages);
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    [Fact]
    public async Task Options_given_to_WithVmmSwap_are_those_of_guests_added_without_their_own()
    {
        using var guest = new GuestFixture(16);
        var options = SwapTestKit.Options() with { SwapDirectory = "/nonexistent/runtime-swap-dir", TrimChunkPages = 9 };
        await using var host = await TestHost.StartAsync(new InMemorySink(), s => s.AddAkka("vmm-swap-runtime-options", akka => akka.WithVmmSwap(options)));
        var system = host.Services.GetRequiredService<ActorSystem>();

        Assert.Equal(options, VmmSwapOptions.FromConfig(system.Settings.Config));
        var error = Assert.Throws<SwapDirectoryUnusableException>(() => VmmSwapGuests.For(system).Add("vm-opts", guest.Memory));
        Assert.Equal("/nonexistent/runtime-swap-dir", error.Directory);
    }

    [Fact]
    public async Task The_one_guest_runtime_is_the_default_guest_and_stays_in_the_actor_registry()
    {
        using var guest = new GuestFixture(16);
        await using var host = await TestHost.StartAsync(guest, new InMemorySink(), "vmm-swap-default-guest");
        var system = host.Services.GetRequiredService<ActorSystem>();
        var guests = VmmSwapGuests.For(system);

        Assert.Equal([VmmSwapGuests.DefaultId], guests.Ids);
        Assert.Equal(host.Services.GetRequiredService<ActorRegistry>().Get<SwapSupervisor>(), guests.Get(VmmSwapGuests.DefaultId).Supervisor);
        Assert.Equal("vmm-swap", VmmSwapGuests.SupervisorName(VmmSwapGuests.DefaultId));
    }

    [Fact]
    public async Task Stopping_the_host_swaps_every_guest_back_in_and_no_guest_is_added_after()
    {
        using var first = new GuestFixture(48, 16);
        using var second = new GuestFixture(32);
        first.Fill(seed: 69);
        second.Fill(seed: 70);
        await using var host = await StartAsync("vmm-swap-guests-stop");
        var system = host.Services.GetRequiredService<ActorSystem>();
        var guests = VmmSwapGuests.For(system);
        foreach (var (id, guest) in new[] { ("vm-1", first), ("vm-2", second) })
        {
            var swap = guests.Add(id, guest.Memory);
            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);
        }

        await host.StopAsync();
        await system.WhenTerminated.WaitAsync(Deadline);

        Assert.Empty(first.MemFdMismatches());
        Assert.Empty(second.MemFdMismatches());
        var late = Assert.Throws<InvalidOperationException>(() => guests.Add("vm-late", first.Memory));
        Assert.Contains("shutting down", late.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_actor_system_without_the_vmm_swap_configuration_is_refused_before_any_actor_starts()
    {
        using var guest = new GuestFixture(16);
        using var system = ActorSystem.Create("vmm-swap-unconfigured");

        var added = Assert.Throws<InvalidOperationException>(() => VmmSwapGuests.For(system).Add("vm", guest.Memory, SwapTestKit.Options()));
        var started = Assert.Throws<InvalidOperationException>(() => SwapController.Start(system, guest.Memory, SwapTestKit.Options()));

        Assert.Contains("no vmm-swap configuration", added.Message, StringComparison.Ordinal);
        Assert.Contains("no vmm-swap configuration", started.Message, StringComparison.Ordinal);
        Assert.Empty(VmmSwapGuests.For(system).Ids);
        await system.Terminate().WaitAsync(Deadline);
    }

    private static Task<TestHost> StartAsync(string systemName) =>
        TestHost.StartAsync(new InMemorySink(), s => s.AddAkka(systemName, akka => akka.WithVmmSwap(SwapTestKit.Options())));

    private static VmmSwapGuests Guests(TestHost host) => VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>());
}
