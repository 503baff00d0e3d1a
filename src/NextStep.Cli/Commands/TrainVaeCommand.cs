using System.CommandLine;
using NextStep.Pipeline;
using NextStep.Training;
using NextStep.Training.Shapes;
using static TorchSharp.torch;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep train-vae</c>: trains the small FLUX-style VAE of the default model on Shapes images.</summary>
public static class TrainVaeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Training data (only \"shapes\": the procedural Shapes train split)", DefaultValueFactory = _ => "shapes" };
        var output = new Option<string>("--out") { Description = "Folder for config.json, checkpoint.pt and reconstructions.png", Required = true };
        var defaults = new VaeTrainingOptions();
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => defaults.Steps };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var kl = new Option<double>("--kl-weight") { Description = "KL weight next to the reconstruction loss", DefaultValueFactory = _ => defaults.KlWeight };
        var seed = new Option<long>("--seed") { Description = "Seed of the init and the posterior noise", DefaultValueFactory = _ => defaults.Seed };
        var minutes = new Option<double?>("--minutes") { Description = "Wall-clock budget: the schedule and the run end when it is spent (whichever of steps and minutes comes first)" };
        var crop = new Option<int>("--crop") { Description = "Train on random square crops of this side (multiple of 16; 0 = whole images)", DefaultValueFactory = _ => defaults.CropSize };
        var init = new Option<string?>("--init") { Description = "Continue from this VAE folder (e.g. crop-trained weights, then whole images)" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch" };
        var noise = new Option<double>("--latent-noise") { Description = "γ of the tokenizer noise z + α·ε, α ~ U[0, γ] (0 = none)", DefaultValueFactory = _ => defaults.LatentNoise };
        var saveEvery = new Option<int>("--save-every") { Description = "Also write the weights so far to --out every N steps (0 = only at the end)", DefaultValueFactory = _ => 0 };
        var freeze = new Option<bool>("--freeze-encoder") { Description = "Train the decoder only (with --init): the latents and their scaling stay as they are" };
        var firstImage = new Option<long>("--first-image") { Description = "Index of the first Shapes training scene (e.g. past the scenes an --init run was trained on)", DefaultValueFactory = _ => defaults.FirstImage };
        var dilation = new Option<int>("--edge-band") { Description = "Also weight the background pixels within this many pixels of a shape like the shape's own (0 = shape pixels only)", DefaultValueFactory = _ => defaults.ForegroundDilation };
        var split = new Option<string>("--split") { Description = "Scenes to train on: \"train\" (no held-out pair is ever drawn) or \"all\" (the whole Shapes world, held-out pairs included)", DefaultValueFactory = _ => "train" };
        var recolor = new Option<double>("--recolor") { Description = "Probability that an object is drawn in a random colour instead of its palette colour (never a held-out pair; 0 = palette only)", DefaultValueFactory = _ => defaults.RecolorFraction };
        var strokes = new Option<double>("--strokes") { Description = "Probability that a scene also gets one to three thin lines in any colour, apart from its objects (fine detail in every colour; never a held-out pair; 0 = none)", DefaultValueFactory = _ => defaults.StrokeFraction };
        var logEvery = new Option<int>("--log-every") { Description = "Print the mean loss every N steps", DefaultValueFactory = _ => 25 };
        var burrs = new Option<double>("--burrs") { Description = "Probability that a scene also gets one or two spiky blots in any colour (3, 4, 6, 7 or 8 uneven points, never five), apart from its objects and lines (sharp points in every colour; never a shape the analyser recognises, so never a held-out pair; 0 = none)", DefaultValueFactory = _ => defaults.BurrFraction };
        var redrawModel = new Option<string?>("--redraw-model") { Description = "A trained NextStep model folder whose generator redraws the training tokens the decoder reads (needs --freeze-encoder and --crop 0; with --recolor, --strokes or --burrs, only scenes left in palette colours and without marks are redrawn)" };
        var redrawProbability = new Option<double>("--redraw-probability") { Description = "With --redraw-model: probability that a token is replaced by its redrawing", DefaultValueFactory = _ => 0.5 };
        var redrawStart = new Option<double>("--redraw-start") { Description = "With --redraw-model: flow time (0..1) the redrawing starts from, the true token noised to it", DefaultValueFactory = _ => 0.5 };
        var redrawSteps = new Option<int>("--redraw-steps") { Description = "With --redraw-model: Euler steps of the generator's head", DefaultValueFactory = _ => 20 };
        var cmd = new Command("train-vae", "Train the default model's VAE on Shapes images and measure its latent scaling") { data, output, steps, minutes, batch, crop, lr, kl, seed, init, noise, saveEvery, freeze, firstImage, dilation, split, recolor, strokes, burrs, redrawModel, redrawProbability, redrawStart, redrawSteps, threads, logEvery };
        cmd.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            if (p.GetValue(data) is not "shapes") throw new NextStepException($"--data \"{p.GetValue(data)}\": only \"shapes\" is supported");
            var splitValue = p.GetValue(split) switch
            {
                "train" => ShapesSplit.Train,
                "all" => ShapesSplit.All,
                var other => throw new NextStepException($"--split \"{other}\": expected \"train\" or \"all\""),
            };
            if (!(p.GetValue(recolor) is >= 0 and <= 1)) throw new NextStepException($"--recolor {p.GetValue(recolor)}: expected a probability in [0, 1]");
            if (!(p.GetValue(strokes) is >= 0 and <= 1)) throw new NextStepException($"--strokes {p.GetValue(strokes)}: expected a probability in [0, 1]");
            if (!(p.GetValue(burrs) is >= 0 and <= 1)) throw new NextStepException($"--burrs {p.GetValue(burrs)}: expected a probability in [0, 1]");
            if (p.GetValue(threads) is { } t) set_num_threads(t);
            var options = defaults with { Steps = p.GetValue(steps), BatchSize = p.GetValue(batch), LearningRate = p.GetValue(lr), KlWeight = p.GetValue(kl), Seed = p.GetValue(seed),
                MaxMinutes = p.GetValue(minutes), CropSize = p.GetValue(crop), InitFrom = p.GetValue(init),
                LatentNoise = p.GetValue(noise), SaveEvery = p.GetValue(saveEvery), SaveTo = p.GetValue(output), FreezeEncoder = p.GetValue(freeze),
                FirstImage = p.GetValue(firstImage), ForegroundDilation = p.GetValue(dilation),
                Split = splitValue, RecolorFraction = p.GetValue(recolor), StrokeFraction = p.GetValue(strokes), BurrFraction = p.GetValue(burrs),
                GeneratorRedraw = p.GetValue(redrawModel) is { } redrawFolder
                    ? new GeneratorRedrawOptions(redrawFolder, p.GetValue(redrawProbability), p.GetValue(redrawStart), p.GetValue(redrawSteps))
                        .Validate($"--redraw-model {redrawFolder} --redraw-probability {p.GetValue(redrawProbability)} --redraw-start {p.GetValue(redrawStart)} --redraw-steps {p.GetValue(redrawSteps)}")
                    : null };
            double window = 0;
            int every = p.GetValue(logEvery);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = VaeTrainer.Train(VaeTrainer.SmallConfig, options, (step, loss) =>
            {
                window += loss;
                if (step % every == 0) { stdout.WriteLine($"step {step}  rec {window / every:F4}  {clock.Elapsed.TotalSeconds:F0} s"); window = 0; }
            });
            using var vae = result.Vae;
            var dir = p.GetValue(output)!;
            VaeTrainer.Save(vae, result.Config, dir);
            VaeTrainer.WriteReconstructions(vae, options.DataSeed + 1, dir);
            if (result.SkippedSteps > 0) stdout.WriteLine($"note: {result.SkippedSteps} steps had NaN or infinite gradients and were not applied");
            stdout.WriteLine($"trained {result.Losses.Count} steps in {result.Elapsed.TotalMinutes:F1} min; final rec (mse+l1) {result.Losses.TakeLast(every).Average():F4}; PSNR {result.Psnr:F2} dB; shift_factor {result.Config.ShiftFactor}, scaling_factor {result.Config.ScalingFactor}");
            stdout.WriteLine($"wrote {dir}");
            return 0;
        });
        return cmd;
    }
}
