using NextStep.Config;

namespace NextStep.Loading;

/// <summary>One finding of a model-folder check: what was checked, whether it passed, details and the fix.</summary>
public sealed record CheckResult(string Name, bool Ok, string Detail, string? Fix = null);

/// <summary>
/// Validates a NextStep model folder without loading the weights: files present, configs parse, every safetensors
/// header valid, the tensors the config implies present with the right shapes, VAE files present.
/// </summary>
public static class ModelFolderCheck
{
    public static List<CheckResult> Run(string folder)
    {
        var results = new List<CheckResult>();
        if (!Directory.Exists(folder))
        {
            results.Add(new("model folder", false, $"{folder} does not exist", "pass --model with a folder holding config.json, model*.safetensors, tokenizer.json and vae/"));
            return results;
        }
        NextStepConfig? cfg = Try(results, "config.json", () => NextStepConfig.Load(Path.Combine(folder, "config.json")),
            c => $"{c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads}/{c.NumKeyValueHeads} heads, head {c.FmHeadLayers}×{c.FmHeadDim}",
            "restore the model's config.json from its Hugging Face repository");
        SafeTensorsCheckpoint? ck = Try(results, "weights", () => SafeTensorsCheckpoint.Open(folder),
            c => $"{c.Names.Count()} tensors, {c.Names.Sum(n => c.Info(n).ByteLength) / 1e6:F1} MB, dtypes {string.Join("/", c.Names.Select(n => c.Info(n).DType).Distinct())}",
            "re-download the model*.safetensors files (a file is truncated or corrupt)");
        if (cfg != null && ck != null)
        {
            var problems = ExpectedShapes(cfg)
                .Select(kv => !ck.Contains(kv.Key) ? $"missing {kv.Key}"
                    : !ck.Info(kv.Key).Shape.SequenceEqual(kv.Value) ? $"{kv.Key} is [{string.Join(",", ck.Info(kv.Key).Shape)}], config implies [{string.Join(",", kv.Value)}]" : null)
                .Where(p => p != null).ToList();
            results.Add(problems.Count == 0
                ? new("shapes", true, "every tensor the config implies is present with the right shape")
                : new("shapes", false, string.Join("; ", problems.Take(5)) + (problems.Count > 5 ? $"; … {problems.Count - 5} more" : ""), "the weights do not belong to this config.json: use matching files"));
        }
        ck?.Dispose();
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            results.Add(File.Exists(Path.Combine(folder, f))
                ? new(f, true, $"{FileSize.Of(Path.Combine(folder, f)) / 1024.0:F0} KiB")
                : new(f, false, "missing", "copy the tokenizer files from the model's Hugging Face repository"));
        string vae = Path.Combine(folder, "vae");
        Try(results, "vae/config.json", () => VaeConfig.Load(Path.Combine(vae, "config.json")),
            v => $"ch {v.Ch}, ch_mult [{string.Join(",", v.ChMult)}], z {v.ZChannels}, scale {v.ScalingFactor}, shift {v.ShiftFactor}",
            "download vae/config.json of the model (or of NextStep-1-f8ch16-Tokenizer)");
        string ckpt = Path.Combine(vae, "checkpoint.pt");
        results.Add(File.Exists(ckpt)
            ? new("vae/checkpoint.pt", true, $"{FileSize.Of(ckpt) / 1e6:F1} MB")
            : new("vae/checkpoint.pt", false, "missing", "download it explicitly (it is stored with Git LFS): vae/checkpoint.pt"));
        return results;
    }

    private static T? Try<T>(List<CheckResult> results, string name, Func<T> f, Func<T, string> ok, string fix) where T : class
    {
        try { var v = f(); results.Add(new(name, true, ok(v))); return v; }
        catch (NextStepException e) { results.Add(new(name, false, e.Message, fix)); return null; }
    }

    /// <summary>The shapes of the tensors every NextStep checkpoint of this config must hold (official key names).</summary>
    public static Dictionary<string, long[]> ExpectedShapes(NextStepConfig c)
    {
        long h = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim, d = c.TokenDim, f = c.FmHeadDim;
        var s = new Dictionary<string, long[]>
        {
            ["embed_tokens.weight"] = [c.VocabSize, h],
            ["norm.weight"] = [h],
            ["image_in_projector.weight"] = [h, d],
            ["image_out_projector.weight"] = [h, h],
            ["image_head.net.input_proj.weight"] = [f, d],
            ["image_head.net.cond_embed.weight"] = [f, h],
            ["image_head.net.final_layer.linear.weight"] = [d, f],
        };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"layers.{i}.";
            s[p + "self_attn.q_proj.weight"] = [q, h];
            s[p + "self_attn.k_proj.weight"] = [kv, h];
            s[p + "self_attn.v_proj.weight"] = [kv, h];
            s[p + "self_attn.o_proj.weight"] = [h, q];
            s[p + "mlp.gate_proj.weight"] = [c.IntermediateSize, h];
            s[p + "mlp.up_proj.weight"] = [c.IntermediateSize, h];
            s[p + "mlp.down_proj.weight"] = [h, c.IntermediateSize];
            s[p + "input_layernorm.weight"] = [h];
            s[p + "post_attention_layernorm.weight"] = [h];
        }
        for (int j = 0; j < c.FmHeadLayers; j++)
            s[$"image_head.net.res_blocks.{j}.adaLN_modulation.1.weight"] = [3 * f, f];
        return s;
    }
}
