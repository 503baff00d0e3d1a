using System.CommandLine;
using NextStep.Model;
using NextStep.Training.Shapes;
using static TorchSharp.torch;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep train-detector</c>: trains a model folder's Shapes detector (<c>detector/</c>) on train-split scenes seen through its VAE.</summary>
public static class TrainDetectorCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder whose VAE (vae/) the training pictures pass through", Required = true };
        var output = new Option<string?>("--out") { Description = "Folder for the detector's config.json and model.safetensors (default: MODEL/detector, where the pipeline finds it)" };
        var defaults = new ShapesDetectorTrainingOptions();
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.Steps };
        var batch = new Option<int>("--batch") { Description = "Pictures per step", DefaultValueFactory = _ => defaults.BatchSize };
        var pool = new Option<int>("--pool") { Description = "Train-split scenes rendered and passed through the VAE once before training", DefaultValueFactory = _ => defaults.PoolScenes };
        var firstScene = new Option<int>("--first-scene") { Description = "Seed of the first pool scene; the next ones follow", DefaultValueFactory = _ => defaults.FirstScene };
        var noise = new Option<double>("--latent-noise") { Description = "Largest α of the latent noise z + α·ε before decoding", DefaultValueFactory = _ => defaults.LatentNoise };
        var recolor = new Option<double>("--recolor") { Description = "Fraction of objects drawn in a random colour (never one that reads as a held-out pair); their colour is not a target", DefaultValueFactory = _ => defaults.Recolor };
        var factorised = new Option<bool>("--factorised") { Description = "Read shapes from a colour-blind picture and colours from pixel colours alone, so no shape is tied to the colours it was seen in" };
        var half = new Option<bool>("--float16") { Description = "Store the weights as float16 (half the file; they are read back as float32)" };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var seed = new Option<long>("--seed") { Description = "Seed of the init, the latent noise and the batches", DefaultValueFactory = _ => defaults.Seed };
        var snapshots = new Option<int>("--snapshot-every") { Description = "Also write the detector so far to OUT.step-N every N steps (0 = only at the end)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch" };
        var logEvery = new Option<int>("--log-every") { Description = "Print the mean losses every N steps", DefaultValueFactory = _ => 50 };
        var cmd = new Command("train-detector", "Train the Shapes detector that best-of-K uses to check a caption's claims (train-split scenes only)")
            { model, output, steps, batch, pool, firstScene, noise, recolor, factorised, half, lr, seed, snapshots, threads, logEvery };
        cmd.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            if (p.GetValue(threads) is { } t) set_num_threads(t);
            var folder = p.GetValue(model)!;
            var dir = p.GetValue(output) ?? Path.Combine(folder, ShapesDetectorConfig.FolderName);
            var options = new ShapesDetectorTrainingOptions
            {
                Steps = p.GetValue(steps), BatchSize = p.GetValue(batch), PoolScenes = p.GetValue(pool), FirstScene = p.GetValue(firstScene),
                LatentNoise = p.GetValue(noise), Recolor = p.GetValue(recolor), LearningRate = p.GetValue(lr), Seed = p.GetValue(seed), SnapshotEvery = p.GetValue(snapshots),
                Config = p.GetValue(factorised) ? ShapesDetectorConfig.Default with { Factorised = true } : null,
            }.Validate();
            int every = Math.Max(1, p.GetValue(logEvery));
            var storage = p.GetValue(half) ? ScalarType.Float16 : ScalarType.Float32;
            var vaeDir = Path.Combine(folder, "vae");
            if (!Directory.Exists(vaeDir)) throw new NextStepException($"{vaeDir}: not found; --model must be a model folder with a vae/ folder");
            using var vae = AutoencoderKL.Load(vaeDir);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double[] sums = new double[5];
            using var detector = ShapesDetectorTrainer.Train(vae, options, (step, l) =>
            {
                sums[0] += l.Total; sums[1] += l.Heatmap; sums[2] += l.Color; sums[3] += l.Offset; sums[4] += l.Background;
                if (step % every != 0) return;
                stdout.WriteLine($"step {step}  loss {sums[0] / every:F4}  heatmap {sums[1] / every:F4}  colour {sums[2] / every:F4}  offset {sums[3] / every:F4}  background {sums[4] / every:F4}  lr {ShapesDetectorTrainer.LearningRate(options, step):E2}  {clock.Elapsed.TotalSeconds:F0} s");
                Array.Clear(sums);
            }, (step, snapshot) => snapshot.Save($"{dir}.step-{step}", storage),
            n => { if (n % 1024 == 0 || n == options.PoolScenes) stdout.WriteLine($"pool {n}/{options.PoolScenes} through the VAE  {clock.Elapsed.TotalSeconds:F0} s"); });
            detector.Save(dir, storage);
            stdout.WriteLine($"trained {options.Steps} steps in {clock.Elapsed.TotalMinutes:F1} min; wrote {dir}");
            return 0;
        });
        return cmd;
    }
}
