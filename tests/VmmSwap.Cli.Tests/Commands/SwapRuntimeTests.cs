using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using VmmSwap.Actors;
using VmmSwap.Cli.Common;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Tests.Commands;

/// <summary>The runtime as the demo hosts it.</summary>
public sealed class SwapRuntimeTests
{
    [Fact]
    public async Task Akka_leaves_SIGINT_to_the_demo_and_the_supervisor_answers()
    {
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(16));
        using var logger = DemoLogging.CreateLogger(TextWriter.Null);
        await using var runtime = await SwapRuntime.StartAsync(guest, Path.GetTempPath(), logger, CancellationToken.None);

        // With Akka's CLR hook on, Ctrl-C stopped the actor system while pages were swapped out,
        // and the demo then waited on a supervisor that was gone (seen in a terminal).
        var system = runtime.Services.GetRequiredService<ActorSystem>();
        Assert.False(system.Settings.Config.GetBoolean("akka.coordinated-shutdown.run-by-clr-shutdown-hook"));

        var status = await runtime.Controller.StatusAsync();
        Assert.Equal(SwapState.Ready, status.State);
    }
}
