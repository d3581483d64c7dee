using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Storage;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Hosting;

/// <summary>
/// The swap directory is checked where the runtime starts, on real file systems mounted for the
/// test: one that cannot hold the swap file is refused naming the directory, the errno and a fix,
/// and nothing starts; a good one starts as before.
/// </summary>
public sealed class SwapDirectoryTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Theory]
    [InlineData("ramfs", null, SwapDirectoryProbeStep.PunchHole, "EOPNOTSUPP")]
    [InlineData("hugetlbfs", null, SwapDirectoryProbeStep.Write, "EINVAL")]
    [InlineData("tmpfs", "ro", SwapDirectoryProbeStep.CreateFile, "EROFS")]
    public void Start_refuses_a_file_system_that_cannot_hold_the_swap_file(string type, string? options, SwapDirectoryProbeStep step, string errno)
    {
        using var mount = TestMount.Create(type, options);
        AssertStartRefused(mount.Directory, step, errno);
    }

    [Fact]
    public void Start_refuses_a_regular_file_as_the_swap_directory()
    {
        var file = Path.GetTempFileName();
        try
        {
            AssertStartRefused(file, SwapDirectoryProbeStep.CreateFile, "ENOTDIR");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Start_refuses_a_file_system_without_O_TMPFILE() =>
        // procfs is on every Linux host and accepts no new files, whatever the permissions.
        AssertStartRefused("/proc", SwapDirectoryProbeStep.CreateFile, "EOPNOTSUPP");

    [Fact]
    public void Start_refuses_a_missing_swap_directory() =>
        AssertStartRefused(Path.Combine(Path.GetTempPath(), $"vmm-swap-missing-{Guid.NewGuid():N}"), SwapDirectoryProbeStep.CreateFile, "ENOENT");

    [Fact]
    public async Task A_tmpfs_and_the_default_temp_directory_start_and_swap()
    {
        using var tmpfs = TestMount.Create("tmpfs");
        foreach (var directory in new[] { tmpfs.Directory, null })
        {
            using var guest = new GuestFixture(48);
            guest.Fill(seed: 70);
            var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = directory }, name: $"good-dir-{Guid.NewGuid():N}");

            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.TrimAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Pending, Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Active, Deadline);
            await swap.DisableAsync().WaitAsync(Deadline);
            var ready = await swap.WaitForStateAsync(SwapState.Ready, Deadline);

            Assert.Null(ready.Error);
            Assert.Empty(guest.Mismatches());
            await swap.ExitAsync().WaitAsync(Deadline);
        }
    }

    private void AssertStartRefused(string directory, SwapDirectoryProbeStep step, string errno)
    {
        using var guest = new GuestFixture(16);
        var name = $"refused-{Guid.NewGuid():N}";

        var error = Assert.Throws<SwapDirectoryUnusableException>(() => SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = directory }, name));

        Assert.Equal(directory, error.Directory);
        Assert.Equal(step, error.Step);
        Assert.Equal(errno, error.ErrnoName);
        Assert.Contains($"'{directory}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(errno, error.Message, StringComparison.Ordinal);

        // Nothing was started under the name.
        Assert.NotNull(SwapController.Start(Sys, guest.Memory, Options(), name).Supervisor);
    }
}
