using VmmSwap.Core.Storage;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Storage;

/// <summary>
/// <see cref="SwapDirectoryProbe"/> on real file systems mounted for the test (as root): each
/// refusal names the directory, the step that failed, the errno by name and a fix.
/// </summary>
public sealed class SwapDirectoryProbeTests
{
    [Theory]
    [InlineData("ramfs", null, SwapDirectoryProbeStep.PunchHole, "EOPNOTSUPP", "fallocate(PUNCH_HOLE)")]
    [InlineData("hugetlbfs", null, SwapDirectoryProbeStep.Write, "EINVAL", "pwrite")]
    [InlineData("tmpfs", "ro", SwapDirectoryProbeStep.CreateFile, "EROFS", "open(O_TMPFILE)")]
    public void A_file_system_that_cannot_hold_the_swap_file_is_refused_at_the_failing_step(string type, string? options, SwapDirectoryProbeStep step, string errno, string call)
    {
        using var mount = TestMount.Create(type, options);

        var error = Assert.Throws<SwapDirectoryUnusableException>(() => SwapDirectoryProbe.Check(mount.Directory));

        Assert.Equal(step, error.Step);
        Assert.Equal(errno, error.ErrnoName);
        Assert.Contains($"swap directory '{mount.Directory}' cannot hold the swap file", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{call} failed with {errno} (", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(error.Fix, error.Message, StringComparison.Ordinal);
        Assert.Contains(errno == "EROFS" ? "read-only" : "ext4, xfs, btrfs or tmpfs", error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_regular_file_is_refused_as_not_a_directory()
    {
        var file = Path.GetTempFileName();
        try
        {
            var error = Assert.Throws<SwapDirectoryUnusableException>(() => SwapDirectoryProbe.Check(file));

            Assert.Equal(SwapDirectoryProbeStep.CreateFile, error.Step);
            Assert.Equal("ENOTDIR", error.ErrnoName);
            Assert.Contains("choose a directory, not a file", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_missing_directory_is_refused_as_missing()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"vmm-swap-missing-{Guid.NewGuid():N}");

        var error = Assert.Throws<SwapDirectoryUnusableException>(() => SwapDirectoryProbe.Check(missing));

        Assert.Equal(SwapDirectoryProbeStep.CreateFile, error.Step);
        Assert.Equal("ENOENT", error.ErrnoName);
        Assert.Contains($"'{missing}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("create the directory or choose an existing one", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tmpfs_and_the_default_temp_directory_pass_and_keep_no_file()
    {
        using var tmpfs = TestMount.Create("tmpfs");

        SwapDirectoryProbe.Check(tmpfs.Directory);
        SwapDirectoryProbe.Check(Path.GetTempPath());

        Assert.Empty(Directory.EnumerateFileSystemEntries(tmpfs.Directory));
    }
}
