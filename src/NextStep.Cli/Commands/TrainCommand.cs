using System.CommandLine;
using System.Globalization;
using NextStep.Training;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep train</c>: fine-tune or train from scratch with the official objective (see <see cref="Trainer"/>).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Initial model folder (config.json, model.safetensors, tokenizer, vae/)" };
        var config = new Option<string?>("--config") { Description = "Or: config.json of a freshly initialised model (tokenizer files beside it or --tokenizer; --vae or vae/ beside it)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (default: the model or config folder)" };
        var vae = new Option<string?>("--vae") { Description = "VAE folder (default: vae/ of the model or config folder)" };
        var data = new Option<string?>("--data") { Description = "Image folder; captions in captions.jsonl ({\"file\",\"caption\"} lines) or NAME.txt beside each image" };
        var shapes = new Option<int>("--shapes") { Description = "Or: train on N procedural Shapes images" };
        var output = new Option<string>("--out") { Description = "Output folder for checkpoints (checkpoint-STEP/)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps to reach", DefaultValueFactory = _ => 100 };
        var batch = new Option<int>("--batch-size") { Description = "Packed rows per micro-batch", DefaultValueFactory = _ => 1 };
        var accum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 1e-4 };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps from 0", DefaultValueFactory = _ => 0 };
        var schedule = new Option<string>("--schedule") { Description = "constant | cosine (cosine with --scale-lr 1 = the official constant-after-warm-up)", DefaultValueFactory = _ => LrSchedule.Constant };
        var scaleLr = new Option<double>("--scale-lr") { Description = "Cosine floor blend (official 1.0)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Seed of weights init, data order and noise", DefaultValueFactory = _ => 42 };
        var saveEvery = new Option<int>("--save-every") { Description = "Save a checkpoint every N steps (and always at the end)" };
        var sampleEvery = new Option<int>("--sample-every") { Description = "Generate a preview image every N steps (OUT/samples/step-N.png)" };
        var samplePrompt = new Option<string?>("--sample-prompt") { Description = "Preview prompt (default: the first training caption)" };
        var sampleCfg = new Option<double>("--sample-cfg") { Description = "Preview CFG scale", DefaultValueFactory = _ => 7.5 };
        var sampleSteps = new Option<int>("--sample-steps") { Description = "Preview flow-matching steps", DefaultValueFactory = _ => 28 };
        var logEvery = new Option<int>("--log-every") { Description = "Print progress every N steps", DefaultValueFactory = _ => 10 };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint folder of a previous run (same data settings)" };
        var imageSize = new Option<int>("--image-size") { Description = "Training size in pixels (multiple of 16): the square side, or the bucket base with --multi-aspect", DefaultValueFactory = _ => 256 };
        var multiAspect = new Option<bool>("--multi-aspect") { Description = "Crop folder images to the nearest official aspect bucket (same token count as the square) instead of a square" };
        var rowLength = new Option<int>("--row-length") { Description = "Packed row length in tokens (default: twice the longest sample)" };
        var dropText = new Option<double>("--drop-text") { Description = "Probability of the image-before-caption order per sample (official 0.3)", DefaultValueFactory = _ => 0.3 };
        var capitalize = new Option<double>("--capitalize") { Description = "Probability per epoch that a caption is capitalize()d, the rest lower-cased (official 0.5)", DefaultValueFactory = _ => 0.5 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: libtorch's choice; 1 is fastest for tiny models)" };
        var strict = new Option<bool>("--strict-data") { Description = "Refuse bad images/captions instead of reporting and skipping them" };
        var latentShift = new Option<double?>("--latent-shift") { Description = "Latent shift (default: the VAE config's shift_factor)" };
        var latentScale = new Option<double?>("--latent-scale") { Description = "Latent scale (default: the VAE config's scaling_factor)" };

        var cmd = new Command("train", "Train NextStep with the official objective (text CE + flow matching), AdamW and clipping")
        {
            model, config, tokenizer, vae, data, shapes, output, steps, batch, accum, lr, warmup, schedule, scaleLr, seed,
            saveEvery, sampleEvery, samplePrompt, sampleCfg, sampleSteps, logEvery, resume, imageSize, multiAspect, rowLength, dropText, capitalize, threads, strict, latentShift, latentScale,
        };
        cmd.SetAction(p =>
        {
            CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
            var options = new TrainOptions
            {
                ModelDir = p.GetValue(model), ConfigPath = p.GetValue(config), TokenizerDir = p.GetValue(tokenizer), VaeDir = p.GetValue(vae),
                DataDir = p.GetValue(data), ShapesCount = p.GetValue(shapes), OutDir = p.GetValue(output)!, ResumeDir = p.GetValue(resume),
                Steps = p.GetValue(steps), BatchSize = p.GetValue(batch), GradAccum = p.GetValue(accum), Lr = p.GetValue(lr),
                Warmup = p.GetValue(warmup), Schedule = p.GetValue(schedule)!, ScaleLr = p.GetValue(scaleLr), Seed = p.GetValue(seed),
                SaveEvery = p.GetValue(saveEvery), SampleEvery = p.GetValue(sampleEvery), SamplePrompt = p.GetValue(samplePrompt),
                SampleCfg = p.GetValue(sampleCfg), SampleSteps = p.GetValue(sampleSteps), LogEvery = p.GetValue(logEvery), ImageSize = p.GetValue(imageSize), MultiAspect = p.GetValue(multiAspect),
                RowLength = p.GetValue(rowLength), DropTextProb = p.GetValue(dropText), CapitalizeProb = p.GetValue(capitalize), StrictData = p.GetValue(strict), Threads = p.GetValue(threads),
                LatentShift = p.GetValue(latentShift), LatentScale = p.GetValue(latentScale),
            };
            var writer = p.InvocationConfiguration.Output;
            var result = new Trainer(options, line => { writer.WriteLine(line); writer.Flush(); }).Run();
            writer.WriteLine($"done: {result.Losses.Count} steps, {result.StepsPerSecond:F2} steps/s, final loss {result.Losses[^1]:F4}; model in {result.LastCheckpoint}");
            return 0;
        });
        return cmd;
    }
}
