using System.Text.Json;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Control;

/// <summary>Status JSON has exactly the shape crosvm prints for <c>crosvm swap status</c>.</summary>
public sealed class StatusJsonTests(ITestOutputHelper output) : SwapTestKit(output)
{
    private static readonly SwapStatus Sample = new(
        SwapState.Active,
        new SwapMetrics(1, 2, 3, 4, 5, 6, 7),
        new StateTransition(8, 9));

    [Fact]
    public void Serialize_produces_crosvms_document_key_for_key()
    {
        var json = StatusJson.Serialize(Sample);

        Assert.Equal(
            """{"state":"Active","metrics":{"resident_pages":1,"copied_from_file_pages":2,"copied_from_staging_pages":3,"zeroed_pages":4,"redundant_pages":5,"staging_pages":6,"swap_pages":7},"state_transition":{"pages":8,"time_ms":9}}""",
            json);
    }

    [Fact]
    public void Serialize_uses_exactly_crosvms_keys_and_value_kinds()
    {
        using var document = JsonDocument.Parse(StatusJson.Serialize(Sample));
        var root = document.RootElement;

        Assert.Equal(["state", "metrics", "state_transition"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.String, root.GetProperty("state").ValueKind);
        Assert.Equal(
            ["resident_pages", "copied_from_file_pages", "copied_from_staging_pages", "zeroed_pages", "redundant_pages", "staging_pages", "swap_pages"],
            root.GetProperty("metrics").EnumerateObject().Select(p => p.Name));
        Assert.All(root.GetProperty("metrics").EnumerateObject(), p => Assert.Equal(JsonValueKind.Number, p.Value.ValueKind));
        Assert.Equal(["pages", "time_ms"], root.GetProperty("state_transition").EnumerateObject().Select(p => p.Name));
        Assert.Equal(9, root.GetProperty("state_transition").GetProperty("time_ms").GetInt64());
    }

    [Theory]
    [InlineData(SwapState.Ready, "Ready")]
    [InlineData(SwapState.Pending, "Pending")]
    [InlineData(SwapState.TrimInProgress, "TrimInProgress")]
    [InlineData(SwapState.SwapOutInProgress, "SwapOutInProgress")]
    [InlineData(SwapState.Active, "Active")]
    [InlineData(SwapState.SwapInInProgress, "SwapInInProgress")]
    [InlineData(SwapState.Failed, "Failed")]
    public void Every_state_is_written_as_its_crosvm_name_and_parses_back(SwapState state, string name)
    {
        var status = Sample with { State = state };

        var json = StatusJson.Serialize(status);

        using var document = JsonDocument.Parse(json);
        Assert.Equal(name, document.RootElement.GetProperty("state").GetString());
        Assert.Equal(status, StatusJson.Parse(json));
    }

    [Fact]
    public void Large_counts_round_trip_exactly()
    {
        var status = new SwapStatus(
            SwapState.SwapInInProgress,
            new SwapMetrics(long.MaxValue, 1L << 40, 0, 3, 0, (1L << 33) + 1, 17),
            new StateTransition(1L << 50, 123_456_789));

        Assert.Equal(status, StatusJson.Parse(StatusJson.Serialize(status)));
    }

    [Fact]
    public void A_failure_cause_is_an_extra_error_key_with_its_kind_and_round_trips()
    {
        var failed = Sample with { State = SwapState.Failed, Failure = new SwapFailure(SwapFailureKind.DiskFull, "SwapOut failed: disk \"full\"") };

        var json = StatusJson.Serialize(failed);

        using var document = JsonDocument.Parse(json);
        Assert.Equal(["state", "metrics", "state_transition", "error", "error_kind"], document.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(failed.Error, document.RootElement.GetProperty("error").GetString());
        Assert.Equal("DiskFull", document.RootElement.GetProperty("error_kind").GetString());
        Assert.Equal(failed, StatusJson.Parse(json));
    }

    [Fact]
    public void Crosvms_own_output_parses()
    {
        const string crosvm = """
            {"state":"Active","metrics":{"resident_pages":0,"copied_from_file_pages":0,
            "copied_from_staging_pages":0,"zeroed_pages":0,"redundant_pages":0,
            "staging_pages":0,"swap_pages":0},"state_transition":{"pages":0,"time_ms":0}}
            """;

        var status = StatusJson.Parse(crosvm);

        Assert.Equal(new SwapStatus(SwapState.Active, SwapMetrics.Empty, StateTransition.Empty), status);
        Assert.Null(status.Error);
    }

    [Theory]
    [InlineData("""{"state":"Active","state_transition":{"pages":0,"time_ms":0}}""", "metrics")]
    [InlineData("""{"state":"Active","metrics":{"resident_pages":0,"copied_from_file_pages":0,"copied_from_staging_pages":0,"zeroed_pages":0,"redundant_pages":0,"staging_pages":0,"swap_pages":0}}""", "state_transition")]
    public void A_document_missing_a_section_is_refused_naming_it(string json, string section)
    {
        var error = Assert.Throws<JsonException>(() => StatusJson.Parse(json));

        Assert.Contains(section, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_live_status_serialises_and_parses_back()
    {
        using var guest = new GuestFixture(48, 16);
        guest.Fill(seed: 30, stride: 2);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "status-json");
        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Active, Deadline);
        Assert.Equal(guest.Expected[2], guest.ReadPage(2));

        var status = await swap.StatusAsync();
        var json = StatusJson.Serialize(status);

        Assert.Equal(status, StatusJson.Parse(json));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("Active", root.GetProperty("state").GetString());
        Assert.Equal(guest.WrittenPages - 1, root.GetProperty("metrics").GetProperty("swap_pages").GetInt64());
        Assert.Equal(1, root.GetProperty("metrics").GetProperty("copied_from_file_pages").GetInt64());
        Assert.Equal(guest.WrittenPages, root.GetProperty("state_transition").GetProperty("pages").GetInt64());
        Assert.False(root.TryGetProperty("error", out _));

        await swap.DisableAsync().WaitAsync(Deadline);
        var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        var readyJson = StatusJson.Serialize(ready);
        Assert.StartsWith("""{"state":"Ready","metrics":{"resident_pages":0,""", readyJson, StringComparison.Ordinal);
        Assert.Equal(ready, StatusJson.Parse(readyJson));
    }
}
