using System.Diagnostics.CodeAnalysis;
using Akka;
using Akka.Actor;
using VmmSwap.Core.Guest;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.Hosting;

/// <summary>
/// The guests vmm-swap serves in one actor system, added and removed at run time under an id.
/// Each guest has its own <see cref="SwapSupervisor"/> (the actor <see cref="SupervisorName"/>),
/// userfaultfd and swap file, and is exited (every page swapped back in) when it is removed, and
/// when the actor system shuts down, before it terminates. One per actor system: get it with
/// <see cref="For"/> once the system has the vmm-swap configuration
/// (<see cref="VmmSwapHostingExtensions.WithVmmSwap(Akka.Hosting.AkkaConfigurationBuilder, VmmSwapOptions?)"/>
/// or <see cref="VmmSwapConfig.For"/>). Safe to use from any thread.
/// </summary>
public sealed class VmmSwapGuests : IExtension
{
    /// <summary>The id of the guest that <c>WithVmmSwap(guest)</c> adds.</summary>
    public const string DefaultId = "default";

    private const string SupervisorPrefix = "vmm-swap";

    // How long a guest's stop waits for the actor system's guardian to answer (see NameFreedAsync).
    private static readonly TimeSpan GuardianAnswer = TimeSpan.FromSeconds(10);

    private readonly ExtendedActorSystem _system;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Guest> _guests = new(StringComparer.Ordinal);

    // Ids of guests whose supervisor stopped without a Remove (an Exit sent to it directly), kept
    // until the id is added again: to a client such a guest's runtime has stopped, which is not
    // the same as an id the host never had or removed. One short string per such id.
    private readonly HashSet<string> _exited = new(StringComparer.Ordinal);
    private bool _shuttingDown;

    private VmmSwapGuests(ExtendedActorSystem system)
    {
        _system = system;
        CoordinatedShutdown.Get(system).AddTask(ExitOnShutdown.Phase, "vmm-swap-exit-guests", ExitAllAsync);
    }

    /// <summary>The ids of the guests, in ordinal order; a guest is listed from its Add until its supervisor has stopped.</summary>
    public IReadOnlyList<string> Ids
    {
        get
        {
            lock (_lock)
            {
                return [.. _guests.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The guests of <paramref name="system"/>.</summary>
    public static VmmSwapGuests For(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.WithExtension<VmmSwapGuests, Provider>();
    }

    /// <summary>
    /// The name of the supervisor actor of guest <paramref name="id"/>: <c>vmm-swap-{id}</c>, and
    /// <c>vmm-swap</c> for <see cref="DefaultId"/>, the name the one-guest runtime always had.
    /// </summary>
    public static string SupervisorName(string id)
    {
        ValidateId(id);
        return id == DefaultId ? SupervisorPrefix : $"{SupervisorPrefix}-{id}";
    }

    /// <summary>
    /// Starts vmm-swap for <paramref name="guest"/> under <paramref name="id"/> and returns its
    /// controller. Options come from the actor system's <c>vmm-swap</c> HOCON unless
    /// <paramref name="options"/> gives them. Throws, with nothing started:
    /// <see cref="ArgumentException"/> for an id that cannot be part of an actor name (empty, a
    /// space or slash, a leading <c>$</c>) or invalid options;
    /// <see cref="DuplicateGuestIdException"/> for an id in use (a guest being removed holds its
    /// id until its supervisor has stopped); <see cref="SwapDirectoryUnusableException"/> for a
    /// swap directory that cannot hold the swap file; <see cref="UserfaultfdUnavailableException"/>
    /// without userfaultfd access; <see cref="InvalidOperationException"/> once the actor system
    /// is shutting down. With <paramref name="pause"/>, every Enable of this guest pauses the
    /// host's vCPUs through it for the move to staging (<see cref="IGuestPause"/>).
    /// </summary>
    public SwapController Add(string id, GuestMemory guest, VmmSwapOptions? options = null, IGuestPause? pause = null)
    {
        var name = SupervisorName(id);
        ArgumentNullException.ThrowIfNull(guest);
        options = (options ?? VmmSwapOptions.FromConfig(_system.Settings.Config)).Validated();
        lock (_lock)
        {
            // Added after the shutdown task took its list, a guest would be stopped with its pages out.
            if (_shuttingDown || CoordinatedShutdown.Get(_system).ShutdownReason is not null)
            {
                throw new InvalidOperationException($"vmm-swap guest '{id}' cannot be added: actor system '{_system.Name}' is shutting down");
            }

            if (_guests.ContainsKey(id))
            {
                throw new DuplicateGuestIdException(id);
            }

            // Started under the lock (the checks and the start take milliseconds), so an id is
            // only ever taken by a guest whose supervisor runs.
            ExitOnShutdown.WarnIfPhaseIsShorter(_system, options);
            var entry = new Guest(id, new SwapController(SupervisorStarter.Start(_system, guest, options, name, pause: pause)), options);
            _guests.Add(id, entry);
            _exited.Remove(id);
            entry.Stopped = ForgetOnStopAsync(entry);
            return entry.Controller;
        }
    }

    /// <summary>The controller of guest <paramref name="id"/>; throws <see cref="UnknownGuestIdException"/> if there is none.</summary>
    public SwapController Get(string id) =>
        TryGet(id, out var controller) ? controller : throw new UnknownGuestIdException(id, Ids);

    /// <summary>The controller of guest <paramref name="id"/>, if there is one.</summary>
    public bool TryGet(string id, [NotNullWhen(true)] out SwapController? controller)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            controller = _guests.TryGetValue(id, out var entry) ? entry.Controller : null;
            return controller is not null;
        }
    }

    /// <summary>
    /// Whether guest <paramref name="id"/> is no longer listed because its supervisor stopped on an
    /// Exit sent to it directly (not through <see cref="RemoveAsync"/>), and the id has not been
    /// added again since: the control socket answers it <c>runtime_stopped</c>, not <c>unknown_guest</c>.
    /// </summary>
    internal bool HasExited(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            return _exited.Contains(id) && !_guests.ContainsKey(id);
        }
    }

    /// <summary>
    /// Exits guest <paramref name="id"/>'s supervisor, which swaps every page back in first, waits
    /// for it to stop and forgets the id, which can then be added again. Throws
    /// <see cref="UnknownGuestIdException"/> for an id that is not there. If the swap-in fails
    /// (<see cref="SwapCommandException"/>) the guest stays, in Failed, its pages still held: a
    /// later Remove tries again. Removes of one guest at once share one exit;
    /// <paramref name="cancellationToken"/> ends this caller's wait, not the exit.
    /// </summary>
    public async Task RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        Task removal;
        lock (_lock)
        {
            if (!_guests.TryGetValue(id, out var entry))
            {
                throw new UnknownGuestIdException(id, [.. _guests.Keys.Order(StringComparer.Ordinal)]);
            }

            // Run from the pool: none of the exit may run under the lock.
            removal = entry.Removal ??= Task.Run(() => ExitAndForgetAsync(entry));
        }

        await removal.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void ValidateId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!ActorPath.IsValidPathElement(id))
        {
            throw new ArgumentException($"vmm-swap guest id '{id}' cannot be part of an actor name: use letters, digits and -_.*$+:@&=,!~'; (not starting with $)", nameof(id));
        }
    }

    private async Task ExitAndForgetAsync(Guest entry)
    {
        try
        {
            await entry.Controller.ExitAsync().ConfigureAwait(false);
        }
        catch (SwapRuntimeStoppedException)
        {
            // It had stopped already (an Exit sent to it directly): nothing is left to swap in.
        }
        catch
        {
            lock (_lock)
            {
                entry.Removal = null;
            }

            throw;
        }

        await entry.Stopped!.ConfigureAwait(false);
    }

    // A guest whose supervisor stopped, however it stopped, is forgotten once its name is free.
    private async Task ForgetOnStopAsync(Guest entry)
    {
        await entry.Controller.Supervisor.WatchAsync().ConfigureAwait(false);
        await NameFreedAsync().ConfigureAwait(false);
        lock (_lock)
        {
            if (_guests.TryGetValue(entry.Id, out var current) && current == entry)
            {
                _guests.Remove(entry.Id);
                if (entry.Removal is null)
                {
                    _exited.Add(entry.Id);
                }
            }
        }
    }

    // A stopped child's name is free once its parent, the user guardian, has handled the child's
    // death notice. The child sends that notice before it tells any watcher, and an actor handles
    // system messages before ordinary ones, so the guardian's answer to a message sent after the
    // stop was seen comes after the name is free: the id can be added again at once.
    // No answer (the guardian stopped meanwhile, or the ask timed out) means the actor system is
    // terminating and takes no new guest: nothing is left to wait for.
    private async Task NameFreedAsync()
    {
        var answer = _system.Guardian.Ask<ActorIdentity>(new Identify(null), GuardianAnswer);
        await Task.WhenAny(answer, _system.WhenTerminated).ConfigureAwait(false);
        _ = answer.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
    }

    private async Task<Done> ExitAllAsync()
    {
        Guest[] guests;
        lock (_lock)
        {
            _shuttingDown = true;
            guests = [.. _guests.Values];
        }

        await Task.WhenAll(guests.Select(g => ExitOnShutdown.ExitAsync(_system, g.Controller.Supervisor, g.Options.ShutdownTimeout))).ConfigureAwait(false);
        return Done.Instance;
    }

    private sealed class Guest(string id, SwapController controller, VmmSwapOptions options)
    {
        internal string Id { get; } = id;

        internal SwapController Controller { get; } = controller;

        internal VmmSwapOptions Options { get; } = options;

        // Completes once the supervisor has stopped and the id is forgotten.
        internal Task? Stopped { get; set; }

        // The exit a Remove started; null while none runs.
        internal Task? Removal { get; set; }
    }

    private sealed class Provider : ExtensionIdProvider<VmmSwapGuests>
    {
        public override VmmSwapGuests CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
