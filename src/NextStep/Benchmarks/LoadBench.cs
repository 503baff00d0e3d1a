using System.Text.Json;
using NextStep.Config;
using NextStep.Loading;
using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Benchmarks;

/// <summary>Time and peak resident memory of <see cref="NextStepModel.Load"/> on a checkpoint written for the purpose.</summary>
public sealed record LoadResult(string FileType, string ModelType, long FileBytes, long WeightBytes, double Ms, long RssBeforeBytes, long PeakRssBytes)
{
    /// <summary>Peak RSS while loading ÷ the loaded weights' in-memory size (the whole process, runtime included).</summary>
    public double PeakOverWeights => (double)PeakRssBytes / WeightBytes;
    /// <summary>(Peak RSS − RSS before loading) ÷ the weights' size: what loading itself needed.</summary>
    public double IncreaseOverWeights => (double)(PeakRssBytes - RssBeforeBytes) / WeightBytes;
}

public static class LoadBench
{
    /// <summary>
    /// Writes random weights of <paramref name="config"/> in <paramref name="fileDType"/> to a model folder under
    /// <paramref name="scratch"/>, frees them, resets the peak RSS, then loads the folder as <paramref name="modelDType"/>.
    /// </summary>
    public static LoadResult Measure(NextStepConfig config, ScalarType fileDType, ScalarType modelDType, string scratch, long seed = 0)
    {
        string dir = Path.Combine(scratch, $"nextstep-load-{Environment.ProcessId}-{fileDType}");
        Directory.CreateDirectory(dir);
        try
        {
            Write(config, fileDType, dir, seed);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ProcessStats.ResetPeak();
            long before = ProcessStats.RssBytes;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var model = NextStepModel.Load(dir, modelDType);
            double ms = sw.Elapsed.TotalMilliseconds;
            long peak = ProcessStats.PeakRssBytes;
            long weights = model.parameters().Sum(p => p.numel() * p.element_size());
            return new LoadResult(fileDType.ToString().ToLowerInvariant(), modelDType.ToString().ToLowerInvariant(),
                FileSize.Of(Path.Combine(dir, "model.safetensors")), weights, ms, before, peak);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void Write(NextStepConfig c, ScalarType dtype, string dir, long seed)
    {
        using var scope = NewDisposeScope();
        using (var model = new NextStepModel(c, NextStepLayout.FromConfig(c), dtype))
        {
            RandomWeights.Fill(model, seed);
            SafeTensorsWriter.Save(Path.Combine(dir, "model.safetensors"), model.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)));
        }
        var json = new Dictionary<string, object>
        {
            ["model_type"] = c.ModelType, ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads, ["num_key_value_heads"] = c.NumKeyValueHeads, ["head_dim"] = c.HeadDim,
            ["intermediate_size"] = c.IntermediateSize, ["vocab_size"] = c.VocabSize, ["rope_theta"] = c.RopeTheta,
            ["attention_bias"] = c.AttentionBias, ["boi"] = c.Boi, ["eoi"] = c.Eoi, ["image_placeholder_id"] = c.ImagePlaceholderId,
            ["fm_head_dim"] = c.FmHeadDim, ["fm_head_layers"] = c.FmHeadLayers,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(json));
    }
}
