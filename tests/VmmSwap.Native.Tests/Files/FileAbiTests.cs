using VmmSwap.Native.Interop;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Files;

/// <summary>The open flags, lseek whence and fadvise advice the file calls pass, against the headers, through a C probe built with cc.</summary>
public sealed class FileAbiTests
{
    private const string Probe = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <fcntl.h>
        #include <unistd.h>
        #define V(name) printf("%s %llu\n", #name, (unsigned long long)(name))
        int main(void)
        {
            V(O_RDONLY); V(O_WRONLY); V(O_RDWR); V(SEEK_SET); V(O_EXCL); V(O_NONBLOCK); V(O_CLOEXEC); V(O_DIRECTORY);
            V(O_TMPFILE); V(O_DIRECT);
            V(POSIX_FADV_RANDOM); V(POSIX_FADV_WILLNEED); V(POSIX_FADV_DONTNEED);
            return 0;
        }
        """;

    private static readonly Lazy<IReadOnlyDictionary<string, ulong>> Headers = new(() => CProgram.RunForValues(Probe));

    public static TheoryData<string, ulong> Values() => new()
    {
        { "O_RDONLY", Libc.O_RDONLY },
        { "O_WRONLY", Libc.O_WRONLY },
        { "O_RDWR", Libc.O_RDWR },
        { "SEEK_SET", Libc.SEEK_SET },
        { "O_EXCL", Libc.O_EXCL },
        { "O_NONBLOCK", Libc.O_NONBLOCK },
        { "O_CLOEXEC", Libc.O_CLOEXEC },
        { "O_DIRECTORY", Libc.O_DIRECTORY },
        { "O_TMPFILE", Libc.O_TMPFILE },
        { "O_DIRECT", Libc.O_DIRECT },
        { "POSIX_FADV_RANDOM", Libc.POSIX_FADV_RANDOM },
        { "POSIX_FADV_WILLNEED", Libc.POSIX_FADV_WILLNEED },
        { "POSIX_FADV_DONTNEED", Libc.POSIX_FADV_DONTNEED },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void Matches_the_headers(string name, ulong ours) => Assert.Equal(Headers.Value[name], ours);
}
