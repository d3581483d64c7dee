using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VmmSwap.Actors;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Guest;

namespace VmmSwap.Samples;

/// <summary>
/// The README's "Use it in your VMM": the Akka.Hosting lines a VMM writes to host vmm-swap and
/// swap a guest out and back in, as a method its tests run and hold equal to the README's text.
/// </summary>
public static class UseItInYourVmm
{
    /// <summary>
    /// Hosts vmm-swap in a generic host, adds <paramref name="guestMemory"/> as guest <c>vm-1</c>,
    /// swaps it out and back in, and removes it; returns its status while it was swapped out.
    /// </summary>
    public static async Task<SwapStatus> RunAsync(GuestMemory guestMemory)
    {
        #region Use it in your VMM (README.md shows these lines; a test holds the two equal)
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("my-vmm", akka => akka.WithVmmSwap());
        using var host = builder.Build();
        await host.StartAsync();
        var guests = VmmSwapGuests.For(host.Services.GetRequiredService<ActorSystem>());

        // Each VM is a guest under an id; guestMemory is its memfd-backed RAM
        // (GuestMemory.Create, or GuestRegion.Adopt for regions the VMM mapped itself).
        var vm = guests.Add("vm-1", guestMemory);

        // The VM went idle: with its vCPUs paused, move its memory to staging; resume them and
        // write staging to the swap file. Pages come back one by one as the guest touches them.
        await vm.EnableAsync();
        await vm.SwapOutAsync();
        var swappedOut = await vm.WaitForStateAsync(SwapState.Active, TimeSpan.FromMinutes(5));

        // Busy again: bring every page back. Removing a guest, or stopping the host, does it too.
        await vm.DisableAsync();
        await vm.WaitForStateAsync(SwapState.Ready, TimeSpan.FromMinutes(5));
        await guests.RemoveAsync("vm-1");
        await host.StopAsync();
        #endregion
        return swappedOut;
    }
}
