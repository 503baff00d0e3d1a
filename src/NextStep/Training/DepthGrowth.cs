using System.Text.Json.Nodes;
using NextStep.Config;
using NextStep.Loading;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>What <see cref="DepthGrowth.Run"/> did: decoder layers and flow-matching head blocks, before and after.</summary>
public sealed record DepthGrowthResult(int LayersBefore, int LayersAfter, int HeadBlocksBefore, int HeadBlocksAfter);

/// <summary>
/// Makes a trained model deeper without changing what it computes, so training can go on with more capacity from
/// where it stands. After each chosen decoder layer a copy of that layer is inserted whose two residual outputs
/// (<c>self_attn.o_proj</c> and <c>mlp.down_proj</c>) are zero; after each chosen res block of the flow-matching head
/// a copy whose gate (the last third of <c>adaLN_modulation.1</c>'s outputs) is zero. Either way the copy at first
/// adds nothing to its residual stream, and its other weights (norms, q/k/v, gate/up, the block's MLP and its shift
/// and scale) are the original's, which gives it something to start from. Every other weight, the tokenizer, the
/// sampling profile and the VAE are copied unchanged, and <c>num_hidden_layers</c> / <c>fm_head_layers</c> in
/// config.json are raised; eval reports of the old weights are not copied.
/// </summary>
public static class DepthGrowth
{
    private sealed record Stack(string Prefix, string ConfigKey, string Unit, Func<string, Tensor, Tensor> Copy);

    private static readonly string[] DecoderOutputs = ["self_attn.o_proj.weight", "self_attn.o_proj.bias", "mlp.down_proj.weight", "mlp.down_proj.bias"];

    private static readonly Stack Decoder = new("layers.", "num_hidden_layers", "layer",
        (rest, w) => DecoderOutputs.Contains(rest) ? zeros_like(w) : w.clone());

    private static readonly Stack Head = new("image_head.net.res_blocks.", "fm_head_layers", "head block",
        (rest, w) => rest.StartsWith("adaLN_modulation.1.", StringComparison.Ordinal) ? WithoutGate(w) : w.clone());

    /// <summary>(shift, scale, gate) are the three thirds of the modulation's outputs (dim 0): the gate rows become 0.</summary>
    private static Tensor WithoutGate(Tensor modulation)
    {
        var copy = modulation.clone();
        long third = modulation.shape[0] / 3;
        copy.narrow(0, 2 * third, third).zero_();
        return copy;
    }

    /// <param name="after">0-based indices of the decoder layers to copy; each copy goes right after its original.</param>
    /// <param name="headAfter">0-based indices of the flow-matching head's res blocks to copy, likewise.</param>
    public static DepthGrowthResult Run(string modelFolder, string outFolder, IReadOnlyCollection<int> after, IReadOnlyCollection<int>? headAfter = null)
    {
        headAfter ??= [];
        ModelFolderCopy.CheckDistinct(modelFolder, outFolder);
        string configPath = ModelFolderCopy.ConfigPath(modelFolder);
        var config = NextStepConfig.Load(configPath);
        if (after.Count == 0 && headAfter.Count == 0) throw new NextStepException("no layer to copy: give at least one decoder layer or head block index");
        var decoder = Plan(Decoder, config.NumHiddenLayers, after, configPath);
        var head = Plan(Head, config.FmHeadLayers, headAfter, configPath);

        using var scope = NewDisposeScope();
        using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
        // Checked before anything is written, so a mismatched folder leaves no partial output.
        foreach (var name in checkpoint.Names)
            foreach (var (stack, count, _) in new[] { (Decoder, config.NumHiddenLayers, decoder), (Head, config.FmHeadLayers, head) })
                if (TryKey(stack, name, out int index, out _) && index >= count)
                    throw new NextStepException($"{modelFolder}: weight {name} belongs to {stack.Unit} {index}, but config.json has {count} ({stack.ConfigKey})");

        ModelFolderCopy.WithoutWeights(modelFolder, outFolder);
        var weights = new List<KeyValuePair<string, Tensor>>();
        foreach (var name in checkpoint.Names)
        {
            var (stack, sources) = TryKey(Decoder, name, out int index, out string rest) ? (Decoder, decoder)
                : TryKey(Head, name, out index, out rest) ? (Head, head) : (null, null);
            if (stack is null) { weights.Add(new(name, checkpoint.Load(name))); continue; }
            using var source = checkpoint.Load(name);
            for (int j = 0; j < sources!.Count; j++)
            {
                if (sources[j].From != index) continue;
                weights.Add(new($"{stack.Prefix}{j}.{rest}", sources[j].Copy ? stack.Copy(rest, source) : source.clone()));
            }
        }
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        json[Decoder.ConfigKey] = decoder.Count;
        json[Head.ConfigKey] = head.Count;
        ModelFolderCopy.WriteConfig(outFolder, json);
        DefaultModelRecipe.Save(weights, outFolder);
        return new DepthGrowthResult(config.NumHiddenLayers, decoder.Count, config.FmHeadLayers, head.Count);
    }

    /// <summary>The new stack: every old unit in order, each chosen one followed by its copy.</summary>
    private static List<(int From, bool Copy)> Plan(Stack stack, int count, IReadOnlyCollection<int> after, string configPath)
    {
        foreach (int i in after)
            if (i < 0 || i >= count) throw new NextStepException($"{stack.Unit} {i}: expected an index from 0 to {count - 1} ({configPath} has {count})");
        if (after.Distinct().Count() != after.Count) throw new NextStepException($"{stack.Unit}s {string.Join(",", after)}: each {stack.Unit} can be copied once");
        var sources = new List<(int From, bool Copy)>();
        for (int i = 0; i < count; i++)
        {
            sources.Add((i, false));
            if (after.Contains(i)) sources.Add((i, true));
        }
        return sources;
    }

    private static bool TryKey(Stack stack, string name, out int index, out string rest)
    {
        (index, rest) = (-1, "");
        if (!name.StartsWith(stack.Prefix, StringComparison.Ordinal)) return false;
        int start = stack.Prefix.Length, dot = name.IndexOf('.', start);
        if (dot < 0 || !int.TryParse(name.AsSpan(start, dot - start), out index)) return false;
        rest = name[(dot + 1)..];
        return true;
    }
}
