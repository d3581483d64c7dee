using System.Collections.Concurrent;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.Event;
using VmmSwap.Actors.Hosting;
using VmmSwap.Native.Files;

namespace VmmSwap.Actors.Control;

/// <summary>
/// The control endpoint: a Unix domain stream socket, mode 0600, that speaks docs/PROTOCOL.md to
/// many clients at once and sends their commands to the guests of an actor system's
/// <see cref="VmmSwapGuests"/>. Each connection is an async task, not an actor: all it does is
/// wait on its socket and on the supervisor's reply, and the supervisor's mailbox is what orders
/// the commands of all clients. Closed, its socket file removed, when the actor system shuts down
/// (before the guests exit) or when disposed.
/// </summary>
public sealed class ControlSocket : IAsyncDisposable
{
    // How long a stop waits for connections to finish the request they are on.
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly VmmSwapGuests _guests;
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly Task _accepting;
    private int _disposed;

    private ControlSocket(ActorSystem system, Socket listener, string path, TimeSpan idleTimeout)
    {
        _listener = listener;
        Path = path;
        _guests = VmmSwapGuests.For(system);
        _log = Logging.GetLogger(system, "vmm-swap-control");
        _idleTimeout = idleTimeout;
        _accepting = Task.Run(AcceptAsync);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "vmm-swap-control-socket", async () =>
        {
            await DisposeAsync().ConfigureAwait(false);
            return Done.Instance;
        });
    }

    /// <summary>The socket file's path.</summary>
    public string Path { get; }

    /// <summary>
    /// Binds <paramref name="path"/> and starts serving the guests of <paramref name="system"/>
    /// (which must have the vmm-swap runtime). The file is made 0600 before the socket listens, so
    /// no one but its owner (and root) can ever connect; a peer that is neither root nor this
    /// process's user is refused and logged anyway (SO_PEERCRED). A socket file left by an earlier
    /// host is replaced; a live one (something accepts on it) or any file that is not a socket
    /// throws <see cref="IOException"/> and is left alone. A connection silent for
    /// <paramref name="idleTimeout"/> (<see cref="ControlProtocol.DefaultIdleTimeout"/> unless given) is closed.
    /// </summary>
    public static ControlSocket Start(ActorSystem system, string path, TimeSpan? idleTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the vmm-swap control socket needs Linux");
        }

        path = System.IO.Path.GetFullPath(path);
        RemoveStale(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));

            // connect(2) is refused until listen(2), so the mode the umask gave lasts no moment
            // in which anyone could connect.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new ControlSocket(system, listener, path, idleTimeout ?? ControlProtocol.DefaultIdleTimeout);
    }

    /// <summary>Stops accepting, closes every connection (those in a request get a moment to answer) and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _listener.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll([_accepting, .. _connections.Keys]), Task.Delay(StopGrace)).ConfigureAwait(false);
        if (FileOps.IsSocket(Path))
        {
            File.Delete(Path);
        }

        _stop.Dispose();
    }

    private static void RemoveStale(string path)
    {
        if (!FileOps.IsSocket(path))
        {
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new IOException($"vmm-swap control socket {path}: the path exists and is not a socket; it was left alone");
            }

            return;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path);
            return;
        }

        throw new IOException($"vmm-swap control socket {path}: another process serves it");
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE and the like pass; the listener stays.
                _log.Warning("vmm-swap control: accept on {0} failed: {1}", Path, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
                continue;
            }

            var connection = Task.Run(() => new ControlConnection(client, _guests, _log, _idleTimeout).ServeAsync(_stop.Token));
            _connections.TryAdd(connection, true);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }
}
