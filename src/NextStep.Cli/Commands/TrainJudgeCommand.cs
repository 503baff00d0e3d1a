using System.CommandLine;
using NextStep.Model;
using NextStep.Pipeline;
using NextStep.Training;
using static TorchSharp.torch;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep train-judge</c>: trains a model folder's match head (<c>judge/</c>) on Shapes near misses.</summary>
public static class TrainJudgeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Trained NextStep model folder whose generator the head reads (it stays frozen)", Required = true };
        var output = new Option<string?>("--out") { Description = "Folder for the head's config.json and model.safetensors (default: MODEL/judge, where the pipeline finds it)" };
        var defaults = new MatchHeadTrainingOptions();
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.Steps };
        var pairs = new Option<int>("--pairs") { Description = "Scene pairs (a scene and a near miss) per step; five judged rows each", DefaultValueFactory = _ => defaults.PairsPerStep };
        var pool = new Option<int>("--pool") { Description = "Scene pairs rendered and encoded once before training", DefaultValueFactory = _ => defaults.PoolPairs };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var seed = new Option<long>("--seed") { Description = "Seed of the scenes, the init and the input noise", DefaultValueFactory = _ => defaults.Seed };
        var snapshots = new Option<int>("--snapshot-every") { Description = "Also write the head so far to OUT.step-N every N steps (0 = only at the end)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch" };
        var logEvery = new Option<int>("--log-every") { Description = "Print the mean loss and accuracy every N steps", DefaultValueFactory = _ => 50 };
        var cmd = new Command("train-judge", "Train the match head that best-of-K weighs next to the caption likelihood (Shapes near misses, train split only)") { model, output, steps, pairs, pool, lr, seed, snapshots, threads, logEvery };
        cmd.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            if (p.GetValue(threads) is { } t) set_num_threads(t);
            var folder = p.GetValue(model)!;
            var dir = p.GetValue(output) ?? Path.Combine(folder, MatchHeadConfig.FolderName);
            var options = new MatchHeadTrainingOptions
            {
                Steps = p.GetValue(steps), PairsPerStep = p.GetValue(pairs), PoolPairs = p.GetValue(pool), LearningRate = p.GetValue(lr),
                Seed = p.GetValue(seed), SnapshotEvery = p.GetValue(snapshots),
            }.Validate();
            int every = Math.Max(1, p.GetValue(logEvery));
            using var pipeline = NextStepPipeline.Load(folder);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double loss = 0, accuracy = 0;
            using var head = MatchHeadTrainer.Train(pipeline.Model, pipeline.Vae, pipeline.Tokenizer, options, (step, l, a) =>
            {
                loss += l; accuracy += a;
                if (step % every == 0) { stdout.WriteLine($"step {step}  bce {loss / every:F4}  accuracy {accuracy / every:F3}  lr {MatchHeadTrainer.LearningRate(options, step):E2}  {clock.Elapsed.TotalSeconds:F0} s"); loss = accuracy = 0; }
            }, (step, snapshot) => snapshot.Save($"{dir}.step-{step}"));
            head.Save(dir);
            stdout.WriteLine($"trained {options.Steps} steps in {clock.Elapsed.TotalMinutes:F1} min; wrote {dir}");
            return 0;
        });
        return cmd;
    }
}
