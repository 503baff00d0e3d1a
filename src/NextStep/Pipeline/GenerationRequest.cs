using System.Globalization;
using NextStep.Imaging;
using NextStep.Sampling;

namespace NextStep.Pipeline;

/// <summary>
/// Which official code a run reproduces. Each one fixes the flow-matching sampler and the pipeline details that
/// differ between them (seed position, BOS handling, the "linear" CFG formula, <c>gen_pos_embed</c>).
/// </summary>
public enum PipelineVariant
{
    /// <summary>GitHub Aug-2025 <c>pipeline_nextstep.py</c> with its head: N−1 SDE steps plus a final 0.04 Euler step.</summary>
    GitHub2025,
    /// <summary>Hugging Face NextStep-1-Large head (N SDE steps to t = 1, N+1 draws) in the Aug-2025 pipeline flow.</summary>
    HF,
    /// <summary>GitHub Feb-2026 <c>inference/gen_pipeline.py</c> (NextStep-1.1): BOS rows, seed after the VAE draw, increasing linear CFG.</summary>
    V11,
}

/// <summary>
/// Every argument of the official <c>generate_image</c>, with its defaults. <see cref="Validate"/> rejects the
/// combinations the official code crashes on or silently mishandles.
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>One or more prompts; an edit prompt holds <c>&lt;image&gt;</c> where the input image goes.</summary>
    public required IReadOnlyList<string> Captions { get; init; }
    /// <summary>Input images for editing, one per <c>&lt;image&gt;</c> in caption order; null for text-to-image.</summary>
    public IReadOnlyList<RgbImage>? Images { get; init; }
    public int NumImagesPerCaption { get; init; } = 1;
    /// <summary>
    /// Best of K (not in the official code; 1 = off): every image is chosen from this many samples drawn in the same
    /// batch, keeping the one whose caption the model itself finds most likely after the decoded picture, read back
    /// through the VAE encoder (<see cref="CaptionScorer.ScoreImages"/>).
    /// Text-to-image only. K &gt; 1 draws noise for K·num_images_per_caption rows, so even the first candidate differs
    /// from the image of K = 1.
    /// </summary>
    public int Candidates { get; init; } = 1;
    /// <summary>Appended to every conditional caption after one space (when not empty).</summary>
    public string? PositivePrompt { get; init; }
    /// <summary>The unconditional rows' text (null = empty).</summary>
    public string? NegativePrompt { get; init; }
    public int Height { get; init; } = 256;
    public int Width { get; init; } = 256;
    public double Cfg { get; init; } = 1.0;
    public double CfgImg { get; init; } = 1.0;
    public CfgSchedule CfgSchedule { get; init; } = CfgSchedule.Constant;
    /// <summary>LayerNorm (no affine, eps 1e-6) on each sampled token; the normalised token is fed back and decoded.</summary>
    public bool UseNorm { get; init; }
    public int NumSamplingSteps { get; init; } = 20;
    public double TimestepsShift { get; init; } = 1.0;
    /// <summary>Seeds torch's generator (null = no reseeding).</summary>
    public long? Seed { get; init; } = 42;
    /// <summary>
    /// v1.1 only: seeds the generator before the VAE posterior draw, which that code makes before its own seeding
    /// (null = leave the generator as it is, like the official code).
    /// </summary>
    public long? PreSeed { get; init; }
    /// <summary>null = the checkpoint's default (<see cref="NextStepPipeline.DefaultVariant"/>).</summary>
    public PipelineVariant? Variant { get; init; }
    /// <summary>v1.1 sampler only: "sde", "cps" or "ode".</summary>
    public string SdeType { get; init; } = "sde";
    /// <summary>Overrides the config's <c>use_gen_pos_embed</c> (Aug-2025 flow only); null = the config's value.</summary>
    public bool? UseGenPosEmbed { get; init; }

    public int ImageCount => Images?.Count ?? 0;

    /// <summary>
    /// The longest caption, positive or negative prompt accepted, in UTF-16 characters: a guard before tokenizing.
    /// The token limit is the model's context (<c>max_position_embeddings</c>), checked by the pipeline.
    /// </summary>
    public const int MaxPromptChars = 32_768;

    /// <summary>Throws a <see cref="NextStepException"/> naming the first argument that is out of range.</summary>
    public void Validate(int downFactor, PipelineVariant variant)
    {
        static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
        if (Captions.Count == 0) throw new NextStepException("captions: at least one caption is required");
        if (Captions.Any(c => c is null)) throw new NextStepException("captions: a caption is null");
        foreach (var (what, text) in Captions.Select((c, i) => ($"caption {i}", (string?)c)).Append(("positive_prompt", PositivePrompt)).Append(("negative_prompt", NegativePrompt)))
            if (text?.Length > MaxPromptChars)
                throw new NextStepException($"{what}: {text.Length} characters exceed the limit of {MaxPromptChars}");
        if (NumImagesPerCaption < 1) throw new NextStepException($"num_images_per_caption = {NumImagesPerCaption}: must be at least 1");
        if (Candidates < 1) throw new NextStepException($"candidates = {Candidates}: must be at least 1 (1 = no best-of-K choice)");
        if (Candidates > 1 && ImageCount > 0) throw new NextStepException($"candidates = {Candidates}: best-of-K choice is for text-to-image only, not for edits");
        if (Height <= 0 || Width <= 0 || Height % downFactor != 0 || Width % downFactor != 0)
            throw new NextStepException($"size {Height}x{Width} (HxW): both sides must be positive multiples of {downFactor} (the model's down factor: VAE factor × patch size)");
        int minSteps = variant == PipelineVariant.GitHub2025 ? 2 : 1;
        if (NumSamplingSteps < minSteps)
            throw new NextStepException($"num_sampling_steps = {NumSamplingSteps}: must be at least {minSteps} for the {Name(variant)} sampler");
        if (!double.IsFinite(Cfg) || Cfg < 1) throw new NextStepException($"cfg = {F(Cfg)}: must be a finite number ≥ 1 (1 = no guidance)");
        if (!double.IsFinite(CfgImg) || CfgImg < 1) throw new NextStepException($"cfg_img = {F(CfgImg)}: must be a finite number ≥ 1 (1 = no image guidance)");
        if (!double.IsFinite(TimestepsShift) || TimestepsShift <= 0) throw new NextStepException($"timesteps_shift = {F(TimestepsShift)}: must be a positive number");
        if (CfgImg != 1 && Cfg == 1) throw new NextStepException($"cfg_img = {F(CfgImg)} needs cfg > 1 (image guidance rows exist only together with text guidance)");
        if (variant != PipelineVariant.V11 && SdeType != "sde")
            throw new NextStepException($"sde_type \"{SdeType}\" exists only for the v1.1 sampler (the {Name(variant)} sampler is an SDE)");
        if (SdeType is not ("sde" or "cps" or "ode")) throw new NextStepException($"sde_type \"{SdeType}\": expected sde, cps or ode");
        if (CfgImg != 1 && ImageCount == 0) throw new NextStepException($"cfg_img = {F(CfgImg)} needs an input image (image guidance is for editing)");

        int tags = Captions.Sum(CountImageTags);
        if (ImageCount == 0 && tags > 0)
            throw new NextStepException($"caption contains {tags} \"<image>\" tag(s) but no input image was given");
        if (ImageCount > 0)
        {
            if (variant != PipelineVariant.V11)
                foreach (var c in Captions)
                    if (CountImageTags(c) != 1) throw new NextStepException($"caption \"{c}\" has {CountImageTags(c)} \"<image>\" tags; the {Name(variant)} pipeline needs exactly one per caption");
            if (tags != ImageCount) throw new NextStepException($"{ImageCount} input image(s) but {tags} \"<image>\" tag(s) in the captions: the counts must match");
            foreach (var img in Images!)
                if (img.Height % downFactor != 0 || img.Width % downFactor != 0)
                    throw new NextStepException($"input image {img.Height}x{img.Width} (HxW): both sides must be multiples of {downFactor}; resize it first");
        }
    }

    public static int CountImageTags(string caption)
    {
        int n = 0;
        for (int i = caption.IndexOf(ImageTag, StringComparison.Ordinal); i >= 0; i = caption.IndexOf(ImageTag, i + ImageTag.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    public const string ImageTag = "<image>";

    /// <summary>An edit instruction as a caption: <see cref="ImageTag"/> is put in front unless the text already holds one.</summary>
    public static string EditCaption(string instruction) =>
        instruction.Contains(ImageTag, StringComparison.Ordinal) ? instruction : ImageTag + instruction;

    /// <summary>The variant's sampler name (<see cref="Samplers"/>).</summary>
    public static string Name(PipelineVariant v) => v switch
    {
        PipelineVariant.GitHub2025 => Samplers.Github2025,
        PipelineVariant.HF => Samplers.Hf,
        _ => Samplers.V11,
    };

    public static PipelineVariant ParseVariant(string name) => name.Trim().ToLowerInvariant() switch
    {
        Samplers.Github2025 => PipelineVariant.GitHub2025,
        Samplers.Hf => PipelineVariant.HF,
        Samplers.V11 => PipelineVariant.V11,
        _ => throw new NextStepException($"sampler \"{name}\": expected one of {string.Join(", ", Samplers.Names)}"),
    };
}
