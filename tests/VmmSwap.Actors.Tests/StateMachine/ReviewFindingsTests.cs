using VmmSwap.Actors.Hosting;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>Command orderings the runtime accepts but mishandles, with real child processes and userfaultfds.</summary>
public sealed class ReviewFindingsTests(ITestOutputHelper output) : SwapTestKit(output)
{
    // ProcessForked while disabled only probes the child's userfaultfd; the supervisor adds it to
    // the set Enable registers when UffdAttached comes back. An Enable sent right behind the
    // ProcessForked goes out with the old set, UffdAttached is stashed while Enabling, and the
    // child, answered Accepted, is never registered while enabled: it reads holes where staged
    // pages were, and the zero pages it faults in make swap-in drop the guest's staged copies.
    [Fact]
    public async Task A_child_handed_over_just_before_enable_is_registered_by_that_enable()
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 91);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "fork-then-enable");
        var replies = CreateTestProbe();
        var children = new List<ForeignUserfaultfd>();
        try
        {
            // A few rounds, each with a new child: the two commands go out back to back, as a
            // host that does not wait for the first reply sends them.
            for (var round = 0; round < 3; round++)
            {
                var child = ForeignUserfaultfd.Create(guest.Mappings);
                children.Add(child);
                swap.Supervisor.Tell(new SwapCommand.ProcessForked(child.Uffd), replies.Ref);
                swap.Supervisor.Tell(SwapCommand.Enable.Instance, replies.Ref);
                var answers = new[] { await replies.ExpectMsgAsync<CommandReply>(Deadline), await replies.ExpectMsgAsync<CommandReply>(Deadline) };
                Assert.All(answers, a => Assert.Equal(CommandOutcome.Accepted, a.Outcome));

                var wrong = Enumerable.Range(0, 16).Where(p => child.ReadPage(guest.Memory.PageAddress(p)) != guest.ExpectedHash(p)).ToList();
                await swap.DisableAsync().WaitAsync(Deadline);
                await swap.WaitForStateAsync(SwapState.Ready, Deadline);
                var lost = guest.Mismatches();
                Assert.True(wrong.Count == 0 && lost.Count == 0, $"round {round}: the child read other bytes on pages {string.Join(", ", wrong)}; after Disable the guest has other bytes on pages {string.Join(", ", lost)}");
            }
        }
        finally
        {
            children.ForEach(c => c.Dispose());
        }
    }
}
