using System.Text.Json.Nodes;
using NextStep.Config;
using NextStep.Loading;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>What <see cref="DepthGrowth.Run"/> did.</summary>
public sealed record DepthGrowthResult(int LayersBefore, int LayersAfter);

/// <summary>
/// Makes a trained model deeper without changing what it computes, so training can go on with more capacity from
/// where it stands: after each chosen decoder layer a copy of that layer is inserted whose two residual outputs
/// (<c>self_attn.o_proj</c> and <c>mlp.down_proj</c>) are zero, so at first the copy adds nothing to the residual
/// stream; its other weights (norms, q/k/v, gate/up) are the original's, which gives its attention and MLP something
/// to start from. Every other weight, the tokenizer, the sampling profile and the VAE are copied unchanged and
/// <c>num_hidden_layers</c> in config.json is raised; eval reports of the old weights are not copied.
/// </summary>
public static class DepthGrowth
{
    private static readonly string[] ZeroedInCopies = ["self_attn.o_proj.weight", "self_attn.o_proj.bias", "mlp.down_proj.weight", "mlp.down_proj.bias"];

    /// <param name="after">0-based indices of the layers to copy; each copy goes right after its original.</param>
    public static DepthGrowthResult Run(string modelFolder, string outFolder, IReadOnlyCollection<int> after)
    {
        ModelFolderCopy.CheckDistinct(modelFolder, outFolder);
        string configPath = ModelFolderCopy.ConfigPath(modelFolder);
        int layers = NextStepConfig.Load(configPath).NumHiddenLayers;
        if (after.Count == 0) throw new NextStepException("no layer to copy: give at least one layer index");
        foreach (int i in after)
            if (i < 0 || i >= layers) throw new NextStepException($"layer {i}: expected an index from 0 to {layers - 1} ({configPath} has {layers} layers)");
        if (after.Distinct().Count() != after.Count) throw new NextStepException($"layers {string.Join(",", after)}: each layer can be copied once");

        // The new stack: every old layer in order, each chosen one followed by its copy.
        var sources = new List<(int From, bool Copy)>();
        for (int i = 0; i < layers; i++)
        {
            sources.Add((i, false));
            if (after.Contains(i)) sources.Add((i, true));
        }

        using var scope = NewDisposeScope();
        using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
        // Checked before anything is written, so a mismatched folder leaves no partial output.
        foreach (var name in checkpoint.Names)
            if (TryLayerKey(name, out int layer, out _) && layer >= layers)
                throw new NextStepException($"{modelFolder}: weight {name} belongs to layer {layer}, but config.json has {layers} layers");

        ModelFolderCopy.WithoutWeights(modelFolder, outFolder);
        var weights = new List<KeyValuePair<string, Tensor>>();
        foreach (var name in checkpoint.Names)
        {
            if (!TryLayerKey(name, out int layer, out string rest)) { weights.Add(new(name, checkpoint.Load(name))); continue; }
            using var source = checkpoint.Load(name);
            for (int j = 0; j < sources.Count; j++)
            {
                if (sources[j].From != layer) continue;
                var t = sources[j].Copy && ZeroedInCopies.Contains(rest) ? zeros_like(source) : source.clone();
                weights.Add(new($"layers.{j}.{rest}", t));
            }
        }
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["num_hidden_layers"] = sources.Count;
        ModelFolderCopy.WriteConfig(outFolder, config);
        DefaultModelRecipe.Save(weights, outFolder);
        return new DepthGrowthResult(layers, sources.Count);
    }

    private static bool TryLayerKey(string name, out int layer, out string rest)
    {
        (layer, rest) = (-1, "");
        if (!name.StartsWith("layers.", StringComparison.Ordinal)) return false;
        int dot = name.IndexOf('.', 7);
        if (dot < 0 || !int.TryParse(name.AsSpan(7, dot - 7), out layer)) return false;
        rest = name[(dot + 1)..];
        return true;
    }
}
