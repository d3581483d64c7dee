using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>A progress column with the pages a phase has moved and, where it means something, the rate in MB/s.</summary>
public sealed class PagesColumn : ProgressColumn
{
    /// <inheritdoc />
    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
    {
        ArgumentNullException.ThrowIfNull(task);
        var pages = task.State.Get<double>(SpectrePhaseProgress.PagesKey);
        var text = string.Create(CultureInfo.InvariantCulture, $"{pages,10:N0} pages");
        var seconds = task.ElapsedTime?.TotalSeconds ?? 0;
        if (task.State.Get<double>(SpectrePhaseProgress.ShowRateKey) > 0 && seconds > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" {pages * PageSize.Bytes / 1e6 / seconds,8:N1} MB/s");
        }
        else
        {
            text += new string(' ', 14);
        }

        return new Text(text);
    }
}
