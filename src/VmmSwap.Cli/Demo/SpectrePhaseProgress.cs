using Spectre.Console;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// One Spectre.Console progress bar per phase, with pages and MB/s. On a terminal the bars redraw
/// in place; when stdout is a file or a pipe Spectre prints plain milestone lines instead, so the
/// output never fills with control sequences.
/// </summary>
public sealed class SpectrePhaseProgress : IPhaseProgress
{
    internal const string PagesKey = "pages";
    internal const string ShowRateKey = "show-rate";

    private readonly ProgressContext _context;

    private SpectrePhaseProgress(ProgressContext context) => _context = context;

    /// <summary>Runs <paramref name="body"/> with bars drawn on <paramref name="console"/>; they stay on screen afterwards.</summary>
    public static Task<T> RunAsync<T>(IAnsiConsole console, Func<IPhaseProgress, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(body);
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new PagesColumn(), new ElapsedTimeColumn())
            .StartAsync(context => body(new SpectrePhaseProgress(context)));
    }

    /// <inheritdoc />
    public IPhaseTracker Begin(string name, double total, bool showRate)
    {
        var task = _context.AddTask(Markup.Escape(name), autoStart: true, maxValue: Math.Max(total, 1));
        task.State.Update<double>(ShowRateKey, _ => showRate ? 1 : 0);
        return new Tracker(task);
    }

    private sealed class Tracker(ProgressTask task) : IPhaseTracker
    {
        public void Update(double done, long pages)
        {
            task.State.Update<double>(PagesKey, _ => pages);
            task.Value = Math.Min(done, task.MaxValue);
        }

        public void Complete(long pages, bool finished)
        {
            task.State.Update<double>(PagesKey, _ => pages);
            if (finished)
            {
                task.Value = task.MaxValue;
            }

            task.StopTask();
        }
    }
}
