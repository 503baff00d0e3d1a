using NextStep.Config;
using NextStep.Loading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// <c>judge/config.json</c> of a model folder: the size of its <see cref="MatchHead"/>. <see cref="InputSize"/> is the
/// generator's hidden size plus one (the per-token caption log-probability).
/// </summary>
public sealed record MatchHeadConfig(int InputSize, int HiddenSize = 64, int NumLayers = 2, int NumHeads = 4, int MaxPositions = 96)
{
    public const string FolderName = "judge";
    public const string ModelType = "nextstep_match_head";

    public void Save(string path)
    {
        var j = new System.Text.Json.Nodes.JsonObject
        {
            ["model_type"] = ModelType,
            ["input_size"] = InputSize,
            ["hidden_size"] = HiddenSize,
            ["num_layers"] = NumLayers,
            ["num_heads"] = NumHeads,
            ["max_positions"] = MaxPositions,
        };
        File.WriteAllText(path, j.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public static MatchHeadConfig Load(string path)
    {
        var j = JsonConfig.Load(path);
        if (j.StringOrNull("model_type") is { } t && t != ModelType)
            throw new NextStepException($"{path}: model_type \"{t}\" is not a match head (expected \"{ModelType}\")");
        var c = new MatchHeadConfig(j.Int("input_size"), j.Int("hidden_size", 64), j.Int("num_layers", 2), j.Int("num_heads", 4), j.Int("max_positions", 96));
        if (c.InputSize < 2 || c.HiddenSize < 1 || c.NumLayers < 1 || c.NumHeads < 1 || c.HiddenSize % c.NumHeads != 0 || c.MaxPositions < 1)
            throw new NextStepException($"{path}: expected input_size ≥ 2, positive sizes and hidden_size ({c.HiddenSize}) divisible by num_heads ({c.NumHeads})");
        return c;
    }
}

/// <summary>
/// A small judge of whether a picture shows its caption, read off the generator itself: a bidirectional transformer
/// over the generator's last hidden states of the drop-text row image → caption → EOS, each with the log-probability
/// the generator gave that position's next caption token. A [CLS] slot's output is the match logit.
/// Trained on renderer scenes against near-miss captions (<see cref="Training.MatchHeadTrainer"/>); best-of-K uses it
/// next to the caption likelihood (<see cref="Pipeline.CaptionScorer"/>).
/// </summary>
public sealed class MatchHead : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale of the log-probability feature, so that it is of the order of the hidden states.</summary>
    public const double LogProbScale = 0.1;

    private readonly TorchSharp.Modules.Linear proj, head;
    private readonly Parameter pos, cls;
    private readonly ModuleList<MatchBlock> blocks;
    private readonly TorchSharp.Modules.LayerNorm norm;

    public MatchHeadConfig Config { get; }

    public MatchHead(MatchHeadConfig config) : base(nameof(MatchHead))
    {
        Config = config;
        int d = config.HiddenSize;
        proj = nn.Linear(config.InputSize, d);
        using (no_grad())
        {
            using Scalar std = 0.02; // held until the call returns (see AdamW.Update)
            pos = new Parameter(randn(config.MaxPositions, d).mul_(std));
            cls = new Parameter(randn(1, 1, d).mul_(std));
        }
        blocks = new ModuleList<MatchBlock>([.. Enumerable.Range(0, config.NumLayers).Select(_ => new MatchBlock(d, config.NumHeads))]);
        norm = nn.LayerNorm(d);
        head = nn.Linear(d, 1);
        RegisterComponents();
    }

    /// <summary>Match logits [B] of features [B, S, input_size] (all positions real).</summary>
    public override Tensor forward(Tensor features) => Forward(features, null);

    /// <summary>Match logits [B] of right-padded features; <paramref name="valid"/> [B, S] marks the real positions.</summary>
    public Tensor Forward(Tensor features, Tensor? valid)
    {
        long b = features.shape[0], s = features.shape[1];
        if (features.dim() != 3 || features.shape[2] != Config.InputSize)
            throw new NextStepException($"match head: features have shape [{string.Join(", ", features.shape)}], expected [B, S, {Config.InputSize}]");
        if (s > Config.MaxPositions)
            throw new NextStepException($"match head: a row of {s} positions exceeds its {Config.MaxPositions} (max_positions); shorten the caption");
        var x = cat([cls.expand(b, 1, -1), Held.Add(proj.forward(features), pos[..(int)s])], 1);
        var mask = valid is null ? null : cat([ones(b, 1, ScalarType.Bool, valid.device), valid], 1).view(b, 1, 1, -1);
        foreach (var block in blocks) x = block.forward(x, mask);
        return head.forward(norm.forward(x[.., 0])).squeeze(-1);
    }

    /// <summary>
    /// The features of drop-text rows: hidden states [B, S, H] and, from the EOI position on, the log-probability of
    /// the next caption token (<paramref name="nextLogProbs"/> [B, S − 1 − eoi], zero where a row is padding),
    /// scaled by <see cref="LogProbScale"/>; 0 elsewhere.
    /// </summary>
    public static Tensor Features(Tensor hidden, Tensor nextLogProbs, int eoi)
    {
        using var scope = NewDisposeScope();
        using Scalar scale = LogProbScale; // held until the call returns (see AdamW.Update)
        long b = hidden.shape[0], s = hidden.shape[1];
        var column = zeros(b, s, ScalarType.Float32, hidden.device);
        column[.., eoi..(int)(s - 1)] = nextLogProbs.to_type(ScalarType.Float32).mul(scale);
        return cat([hidden.to_type(ScalarType.Float32), column.unsqueeze(-1)], -1).MoveToOuterDisposeScope();
    }

    /// <summary>Loads <c>judge/</c> (config.json, model.safetensors) of a model folder; null when the folder has none.</summary>
    public static MatchHead? LoadFrom(string modelFolder)
    {
        var dir = Path.Combine(modelFolder, MatchHeadConfig.FolderName);
        if (!Directory.Exists(dir)) return null;
        var config = MatchHeadConfig.Load(Path.Combine(dir, "config.json"));
        return WeightFiles.Loaded(new MatchHead(config), dir, $"a match head of {config}");
    }

    /// <summary>Writes config.json and model.safetensors (float32) into <paramref name="dir"/>.</summary>
    public void Save(string dir) => WeightFiles.Save(this, dir, Config.Save);
}

/// <summary>Pre-norm transformer block; the optional mask [B, 1, 1, S] marks the positions attention may read.</summary>
internal sealed class MatchBlock : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly TorchSharp.Modules.LayerNorm ln1, ln2;
    private readonly TorchSharp.Modules.Linear qkv, proj, fc1, fc2;
    private readonly int heads;

    public MatchBlock(int d, int heads) : base(nameof(MatchBlock))
    {
        this.heads = heads;
        ln1 = nn.LayerNorm(d); ln2 = nn.LayerNorm(d);
        qkv = nn.Linear(d, 3 * d); proj = nn.Linear(d, d);
        fc1 = nn.Linear(d, 4 * d); fc2 = nn.Linear(4 * d, d);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? mask)
    {
        long b = x.shape[0], s = x.shape[1], d = x.shape[2];
        var q = qkv.forward(ln1.forward(x)).view(b, s, 3, heads, d / heads).permute(2, 0, 3, 1, 4);
        var a = nn.functional.scaled_dot_product_attention(q[0], q[1], q[2], mask);
        x = Held.Add(x, proj.forward(a.transpose(1, 2).reshape(b, s, d)));
        return Held.Add(x, fc2.forward(nn.functional.gelu(fc1.forward(ln2.forward(x)))));
    }
}
