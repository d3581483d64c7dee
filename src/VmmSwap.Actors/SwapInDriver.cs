using Akka.Actor;
using VmmSwap.Actors.Hosting;
using VmmSwap.Core;
using VmmSwap.Native;

namespace VmmSwap.Actors;

/// <summary>
/// Drives the swap-in of the PageHandler actor, on its thread: the context of the running job,
/// its chunks of steps, the read one window ahead on a page worker, a chunk waiting for that
/// read, and the contexts of ended jobs whose read still runs (their buffers go when it answers).
/// </summary>
internal sealed class SwapInDriver
{
    private readonly VmmSwapOptions _options;
    private readonly IActorRef _pool;
    private readonly IActorRef _self;
    private readonly List<(SwapInRead Read, SwapInContext Context)> _retired = [];
    private SwapInContext? _context;
    private IActorRef? _job;
    private SwapInRead? _reading;

    // The job whose chunk waits for the window being read, and the read error it gets instead.
    private IActorRef? _waiter;
    private Exception? _readError;

    internal SwapInDriver(VmmSwapOptions options, IActorRef pool, IActorRef self)
    {
        _options = options;
        _pool = pool;
        _self = self;
    }

    /// <summary>Reads that may still touch a buffer, for a stopping actor to cancel or wait for.</summary>
    internal IEnumerable<PageWork> Unfinished =>
        _retired.Select(r => (PageWork)r.Read).Concat(_reading is null ? [] : [_reading]);

    /// <summary>
    /// Runs the next chunk for <paramref name="job"/>. A context belongs to one job: a job that
    /// died without EndJob leaves nothing behind for the next one.
    /// </summary>
    internal void RunChunk(PageHandler handler, Userfaultfd uffd, IActorRef job)
    {
        if (!job.Equals(_job))
        {
            Retire();
            _context = handler.StartSwapIn();
            _job = job;
        }

        Steps(uffd, job, 0);
    }

    // A chunk is a run of steps, each a message of its own so that fault batches (first in the
    // mailbox) are served between them: staged pages, or the pages of the windows read, up to the
    // chunk size. A page worker reads one window ahead; a chunk with nothing to copy waits for
    // that read. The job is done once staging and the file are empty.
    internal void Steps(Userfaultfd uffd, IActorRef job, long pages)
    {
        var context = _context!;
        long copied;
        try
        {
            if (_readError is { } readError)
            {
                _readError = null;
                job.Tell(new ChunkDone(JobKind.SwapIn, pages, false, SwapFailure.From(readError, "swap-in read failed")));
                return;
            }

            copied = context.CopyStep(uffd, _options.SwapInStepBytes);
            if (context.PlanRead(_options.SwapChunkBytes) is { } read)
            {
                _reading = read;
                _pool.Tell(new ExecuteWork(read, job), _self);
            }
        }
        catch (UffdRetryException)
        {
            // A remove event is pending: it is read before the job's next request.
            job.Tell(new ChunkDone(JobKind.SwapIn, pages, false, null));
            return;
        }
        catch (Exception error)
        {
            job.Tell(new ChunkDone(JobKind.SwapIn, pages, false, SwapFailure.From(error, "swap-in failed")));
            return;
        }

        pages += copied;
        if (copied > 0 && PageSize.PagesToBytes(pages) < _options.SwapChunkBytes)
        {
            _self.Tell(new ContinueSwapIn(job, pages), _self);
        }
        else if (pages > 0)
        {
            job.Tell(new ChunkDone(JobKind.SwapIn, pages, false, null));
        }
        else if (context.ReadPending)
        {
            _waiter = job;
        }
        else
        {
            job.Tell(new ChunkDone(JobKind.SwapIn, 0, true, null));
        }
    }

    /// <summary>A read answered: hands its window to the context (a waiting chunk goes on), or frees a retired context's buffers.</summary>
    internal void ReadDone(SwapInRead read, Exception? error, Userfaultfd uffd)
    {
        var retired = _retired.FindIndex(r => ReferenceEquals(r.Read, read));
        if (retired >= 0)
        {
            _retired[retired].Context.Dispose();
            _retired.RemoveAt(retired);
            return;
        }

        if (!ReferenceEquals(read, _reading))
        {
            return;
        }

        _reading = null;
        if (error is null)
        {
            _context!.Loaded(read);
        }
        else
        {
            _readError = error;
        }

        if (_waiter is { } job)
        {
            _waiter = null;
            Steps(uffd, job, 0);
        }
    }

    /// <summary>Drops the context; a read still running keeps its buffer until it answers.</summary>
    internal void Retire()
    {
        if (_context is not null)
        {
            // Over: its buffers must never serve a fault again, even while a read still fills one.
            _context.StopServing();
            if (_reading is not null)
            {
                _retired.Add((_reading, _context));
            }
            else
            {
                _context.Dispose();
            }
        }

        _context = null;
        _job = null;
        _reading = null;
        _waiter = null;
        _readError = null;
    }

    /// <summary>
    /// Retires the context and makes sure no read touches page state any more, before it is closed:
    /// reads not started are cancelled, running ones waited for (up to <paramref name="timeout"/>).
    /// </summary>
    internal void Close(TimeSpan timeout)
    {
        Retire();
        foreach (var (read, context) in _retired)
        {
            if (read.CancelOrWait(timeout))
            {
                context.Dispose();
            }
        }

        _retired.Clear();
    }
}
