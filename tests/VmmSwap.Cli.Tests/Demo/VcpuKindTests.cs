using System.Text.Json.Nodes;
using VmmSwap.Cli.Demo;
using VmmSwap.Testing;

namespace VmmSwap.Cli.Tests.Demo;

/// <summary><c>--vcpu-kind</c>: KVM by default where /dev/kvm is usable, threads when asked or (saying why) when it is not.</summary>
public sealed class VcpuKindTests
{
    private const string Small = "demo --guest-mib 16 --regions 2 --vcpus 2 --idle-seconds 1 --json";

    [KvmFact]
    public async Task The_default_runs_kvm_vcpus_and_reports_the_guests_own_fault_latency()
    {
        var run = await CliRun.StartAsync(Small);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(string.Empty, run.Stderr);
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("kvm", (string?)report["guest"]!["vcpu_kind"]);
        Assert.Equal("guest rdtsc", (string?)report["fault_latency_timed_by"]);
        Assert.True((bool)report["integrity"]!["ok"]!);
        Assert.True((long)report["fault_latency"]!["samples"]! > 0);
    }

    [Fact]
    public async Task Thread_vcpus_run_when_asked_with_integrity_as_before()
    {
        var run = await CliRun.StartAsync($"{Small} --vcpu-kind thread");

        Assert.Equal(0, run.ExitCode);
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("thread", (string?)report["guest"]!["vcpu_kind"]);
        Assert.Equal("host clock", (string?)report["fault_latency_timed_by"]);
        Assert.True((bool)report["integrity"]!["ok"]!);
    }

    [KvmFact]
    public async Task The_human_report_names_the_kind_and_says_integrity_ok()
    {
        var run = await CliRun.StartAsync("demo --guest-mib 16 --regions 2 --vcpus 2 --idle-seconds 1 --vcpu-kind kvm");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("2 KVM vCPUs over", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("fault latency as the KVM guest timed it (rdtsc)", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("integrity: ok", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_kvm_the_default_falls_back_to_threads_with_the_reason()
    {
        var choice = VcpuKindChoice.Resolve(null, 2, () => "open(/dev/kvm) failed: ENOENT");

        Assert.Equal(new VcpuKindChoice(VcpuKind.Thread, "open(/dev/kvm) failed: ENOENT", null), choice);
    }

    [Fact]
    public void Without_kvm_asking_for_kvm_is_refused_with_the_reason_and_the_alternative()
    {
        var choice = VcpuKindChoice.Resolve("kvm", 2, () => "open(/dev/kvm) failed: ENOENT");

        Assert.Equal("--vcpu-kind kvm needs a usable /dev/kvm: open(/dev/kvm) failed: ENOENT; or pass --vcpu-kind thread", choice.Error);
    }

    [Fact]
    public void Asking_for_threads_does_not_need_kvm()
    {
        var choice = VcpuKindChoice.Resolve("thread", 2, () => throw new InvalidOperationException("KVM was probed"));

        Assert.Equal(new VcpuKindChoice(VcpuKind.Thread, null, null), choice);
    }
}
