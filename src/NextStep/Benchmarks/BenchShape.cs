using NextStep.Config;

namespace NextStep.Benchmarks;

/// <summary>Model shapes the benchmark builds with random weights.</summary>
public static class BenchShape
{
    public static IReadOnlyList<string> Names { get; } = ["tiny", "medium", "large"];

    /// <summary>
    /// tiny: the test fixture's numbers; medium: hidden 1024, 8 layers, 8/2 heads, FFN 2816, head 1024×6;
    /// large: NextStep-1-Large (hidden 5120, 48 layers, 40/8 heads of 128, FFN 13824, vocab 152064, head 1536×12).
    /// </summary>
    public static NextStepConfig Config(string name) => name switch
    {
        "tiny" => Make(64, 2, 4, 2, 16, 160, 1088, 96, 2),
        "medium" => Make(1024, 8, 8, 2, 128, 2816, 152064, 1024, 6),
        "large" => Make(5120, 48, 40, 8, 128, 13824, 152064, 1536, 12),
        _ => throw new NextStepException($"--shape \"{name}\" is unknown (expected one of: {string.Join(", ", Names)})"),
    };

    private static NextStepConfig Make(int hidden, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int headWidth, int headLayers) => new()
    {
        ModelType = "nextstep", HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
        HeadDim = headDim, IntermediateSize = ffn, VocabSize = vocab, RopeTheta = 1e6, AttentionBias = true,
        Boi = vocab - 40, Eoi = vocab - 39, ImagePlaceholderId = vocab - 38, FmHeadDim = headWidth, FmHeadLayers = headLayers,
    };
}
