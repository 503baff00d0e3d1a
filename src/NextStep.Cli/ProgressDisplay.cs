using System.Globalization;
using NextStep.Pipeline;
using Spectre.Console;

namespace NextStep.Cli;

/// <summary>
/// Progress of generate calls: a live Spectre.Console bar per call (image tokens done / total, tokens/s, ETA) when
/// stdout is a terminal, otherwise plain lines at each quarter. Other output goes through <see cref="Line"/>.
/// </summary>
public abstract class ProgressDisplay
{
    /// <summary>Runs <paramref name="body"/> with the display that suits <paramref name="stdout"/>.</summary>
    public static T Run<T>(TextWriter stdout, Func<ProgressDisplay, T> body)
    {
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected) return body(new Plain(stdout));
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx => body(new Live(ctx)));
    }

    /// <summary>A progress sink for one generate call, labelled e.g. "image 3/10".</summary>
    public abstract IProgress<GenerationProgress> Start(string label);

    public abstract void Line(string text);

    protected static string Rate(GenerationProgress p) => p.TokensPerSecond.ToString("F1", CultureInfo.InvariantCulture) + " tokens/s";

    private sealed class Live(ProgressContext ctx) : ProgressDisplay
    {
        public override IProgress<GenerationProgress> Start(string label)
        {
            var task = ctx.AddTask(Markup.Escape(label));
            return new Sink(p =>
            {
                task.MaxValue = p.TotalTokens;
                task.Value = p.Token;
                task.Description = Markup.Escape($"{label}  {p.Token}/{p.TotalTokens} tokens, {Rate(p)}");
                if (p.Token == p.TotalTokens) task.StopTask();
            });
        }

        public override void Line(string text) => AnsiConsole.WriteLine(text);
    }

    private sealed class Plain(TextWriter stdout) : ProgressDisplay
    {
        public override IProgress<GenerationProgress> Start(string label)
        {
            int quarter = 0;
            return new Sink(p =>
            {
                if (p.Token == p.TotalTokens)
                    stdout.WriteLine($"{label}: sampled {p.TotalTokens} image tokens x {p.Images} image(s) in {p.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s ({Rate(p)})");
                else if (p.Token * 4 / p.TotalTokens > quarter)
                {
                    quarter = p.Token * 4 / p.TotalTokens;
                    var eta = TimeSpan.FromSeconds(p.TokensPerSecond > 0 ? (p.TotalTokens - p.Token) / p.TokensPerSecond : 0);
                    stdout.WriteLine($"{label}: {p.Token}/{p.TotalTokens} image tokens, {Rate(p)}, ETA {eta:m\\:ss}");
                }
            });
        }

        public override void Line(string text) => stdout.WriteLine(text);
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Sink(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
