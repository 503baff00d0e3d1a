using System.Text.Json;
using NextStep.Loading;
using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>Where a run stands: optimizer updates done and micro-batches consumed, plus the settings that fix the data stream.</summary>
public sealed record TrainerState(long Step, long MicroBatches, int Seed, int BatchSize, int GradAccum, int RowLength, int ImageSize,
    bool MultiAspect, double DropTextProb, string Data, int Examples);

/// <summary>
/// A checkpoint folder in the official Hugging Face layout, loadable by the inference pipeline: config.json,
/// model.safetensors (float32), the tokenizer files and vae/; plus what resuming needs: optimizer.safetensors (AdamW
/// moments and step), rng_state.safetensors (the run's torch generator) and trainer_state.json. Written to a temporary folder
/// and renamed into place.
/// </summary>
public static class TrainCheckpoint
{
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json", "generation_config.json"];
    private const string StateFile = "trainer_state.json", OptimizerFile = "optimizer.safetensors", RngFile = "rng_state.safetensors";

    public static void Save(string folder, NextStepModel model, AdamW optimizer, Generator generator, TrainerState state, string configPath, string tokenizerDir, string vaeDir)
    {
        using var scope = NewDisposeScope();
        string tmp = folder + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        File.Copy(configPath, Path.Combine(tmp, "config.json"));
        foreach (var name in TokenizerFiles)
            if (File.Exists(Path.Combine(tokenizerDir, name))) File.Copy(Path.Combine(tokenizerDir, name), Path.Combine(tmp, name));
        CopyFolder(vaeDir, Path.Combine(tmp, "vae"));
        var weights = model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList();
        if (model.GenPosEmbed is { } pos) weights.Add(new("gen_pos_embed", pos));
        SafeTensorsWriter.Save(Path.Combine(tmp, "model.safetensors"), weights);
        SafeTensorsWriter.Save(Path.Combine(tmp, OptimizerFile), optimizer.StateTensors());
        using (var rng = generator.get_state())
            SafeTensorsWriter.Save(Path.Combine(tmp, RngFile), [new("torch_cpu", rng)]);
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(folder)) Directory.Delete(folder, true);
        Directory.Move(tmp, folder);
    }

    public static bool IsCheckpoint(string folder) => File.Exists(Path.Combine(folder, StateFile));

    public static TrainerState LoadState(string folder)
    {
        string path = Path.Combine(folder, StateFile);
        if (!File.Exists(path)) throw new NextStepException($"{folder}: not a training checkpoint (no {StateFile})");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path)) ?? throw new NextStepException($"{path}: empty state");
        }
        catch (JsonException e) { throw new NextStepException($"{path}: not a valid trainer state ({e.Message})"); }
    }

    /// <summary>Restores the optimizer moments and the run's generator from a checkpoint folder.</summary>
    public static void LoadOptimizerAndRng(string folder, AdamW optimizer, Generator generator)
    {
        string optPath = Path.Combine(folder, OptimizerFile), rngPath = Path.Combine(folder, RngFile);
        using (var opt = SafeTensorsFile.Open(optPath))
            optimizer.LoadState(name => opt.Tensors.ContainsKey(name) ? opt.Load(name) : null, optPath);
        using var rngFile = SafeTensorsFile.Open(rngPath);
        if (!rngFile.Tensors.ContainsKey("torch_cpu")) throw new NextStepException($"{rngPath}: no \"torch_cpu\" generator state");
        using var rng = rngFile.Load("torch_cpu");
        generator.set_state(rng);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
