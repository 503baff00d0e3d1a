using System.Diagnostics;
using NextStep.Config;
using NextStep.Imaging;
using NextStep.Model;
using NextStep.Training.Shapes;
using NextStep.Sampling;
using NextStep.Tokenization;
using NextStep.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Pipeline;

/// <summary>Everything one run produced: the images and the intermediates the golden tests compare.</summary>
public sealed class GenerationResult : IDisposable
{
    public required IReadOnlyList<RgbImage> Images { get; init; }
    /// <summary>All prompt rows (guidance rows included), left-padded, prefix appended.</summary>
    public required PromptTokens Prompt { get; init; }
    /// <summary>Edits: <c>(posterior sample − shift) · scale</c> of the encoded images [n, C, h/8, w/8]; else null.</summary>
    public Tensor? ImageLatents { get; init; }
    /// <summary>Last hidden state of the prefill [rows, 1, hidden] (before <c>gen_pos_embed</c>).</summary>
    public required Tensor PrefillLastHidden { get; init; }
    /// <summary><c>image_out_projector(c)</c> for the first image token [rows, hidden].</summary>
    public required Tensor Step0Cond { get; init; }
    /// <summary>The sampled image tokens [B, L, D] (after use_norm).</summary>
    public required Tensor Tokens { get; init; }
    /// <summary>The VAE decoder input [B, C, H/8, W/8].</summary>
    public required Tensor Latents { get; init; }
    /// <summary>The VAE decoder output, float32 [B, 3, H, W], about [−1, 1].</summary>
    public required Tensor Pixels { get; init; }

    public void Dispose()
    {
        foreach (var t in new[] { ImageLatents, PrefillLastHidden, Step0Cond, Tokens, Latents, Pixels }) t?.Dispose();
    }
}

/// <summary>
/// NextStep-1 <c>generate_image</c>: text (and, for edits, image) prompt → autoregressive continuous image tokens,
/// each sampled by the flow-matching head from the transformer's last hidden state → VAE decode.
/// </summary>
public sealed class NextStepPipeline : IDisposable
{
    public NextStepModel Model { get; }
    public Qwen2Tokenizer Tokenizer { get; }
    public AutoencoderKL Vae { get; }
    /// <summary>Pixels per image token side: VAE factor × patch size (16 for every released checkpoint).</summary>
    public int DownFactor { get; }
    /// <summary>The variant a request without one uses (the checkpoint's <see cref="SamplingProfile"/> when loaded from a folder).</summary>
    public PipelineVariant DefaultVariant { get; }
    /// <summary>The model folder's match head (<c>judge/</c>), weighed by best-of-K next to the caption likelihood; null when there is none.</summary>
    public MatchHead? MatchHead { get; init; }
    /// <summary>
    /// The model folder's Shapes detector (<c>detector/</c>): best-of-K prefers the candidates in which it finds every claim
    /// of a caption it can read (<see cref="ShapesCaptionParser"/>); null when there is none.
    /// </summary>
    public ShapesDetector? Detector { get; init; }

    private NextStepConfig Config => Model.Config;

    public NextStepPipeline(NextStepModel model, Qwen2Tokenizer tokenizer, AutoencoderKL vae, PipelineVariant defaultVariant = PipelineVariant.HF)
    {
        (Model, Tokenizer, Vae, DefaultVariant) = (model, tokenizer, vae, defaultVariant);
        DownFactor = vae.DownFactor * model.Config.LatentPatchSize;
    }

    /// <summary>Loads a model folder in the Hugging Face layout: config.json, safetensors, tokenizer files and the VAE folder.</summary>
    public static NextStepPipeline Load(string modelFolder, PipelineOptions? options = null)
    {
        options ??= new PipelineOptions();
        if (!Directory.Exists(modelFolder)) throw new NextStepException($"{modelFolder}: model folder not found");
        var device = new Device(options.Device);
        // The official model rounds RoPE's inverse frequencies to bf16 only when it is cast to bf16.
        var rope = options.DType == ScalarType.BFloat16 ? RopeInvFreq.Bf16Rounded : RopeInvFreq.Float32;
        var model = NextStepModel.Load(modelFolder, options.DType, device, rope, options.Int8);
        return Around(model, modelFolder, options.TokenizerFolder);
    }

    /// <summary>
    /// The pipeline of a model folder around its already loaded <paramref name="model"/>: the folder's tokenizer (or
    /// <paramref name="tokenizerFolder"/>'s), its VAE in the model's dtype and device, its default variant.
    /// </summary>
    public static NextStepPipeline Around(NextStepModel model, string modelFolder, string? tokenizerFolder = null)
    {
        var tokenizer = Qwen2Tokenizer.Load(tokenizerFolder ?? modelFolder);
        var head = MatchHead.LoadFrom(modelFolder);
        if (head is not null && head.Config.InputSize != model.Config.HiddenSize + 1)
        {
            head.Dispose();
            throw new NextStepException($"{modelFolder}/{MatchHeadConfig.FolderName}/config.json: input_size {head.Config.InputSize} does not fit this model (expected hidden_size + 1 = {model.Config.HiddenSize + 1})");
        }
        head?.to(model.Device);
        AutoencoderKL? vae = null;
        ShapesDetector? detector;
        try
        {
            vae = AutoencoderKL.Load(VaeFolder(modelFolder, model.Config), model.DType, model.Device);
            detector = ShapesDetector.LoadFrom(modelFolder);
        }
        catch { head?.Dispose(); vae?.Dispose(); throw; }
        return new NextStepPipeline(model, tokenizer, vae, Describe(modelFolder).DefaultVariant) { MatchHead = head, Detector = detector };
    }

    /// <summary>Down factor and default variant of a model folder from its config files alone (validate requests before loading weights).</summary>
    public static (int DownFactor, PipelineVariant DefaultVariant) Describe(string modelFolder)
    {
        if (!Directory.Exists(modelFolder)) throw new NextStepException($"{modelFolder}: model folder not found");
        var config = NextStepConfig.Load(Path.Combine(modelFolder, "config.json"));
        var vae = VaeConfig.Load(Path.Combine(VaeFolder(modelFolder, config), "config.json"));
        return (vae.DownFactor * config.LatentPatchSize, GenerationRequest.ParseVariant(Samplers.DefaultFor(config, modelFolder)));
    }

    /// <summary><c>&lt;model&gt;/vae</c>, else <c>vae_name_or_path</c> resolved against the model folder.</summary>
    public static string VaeFolder(string modelFolder, NextStepConfig config)
    {
        var inside = Path.Combine(modelFolder, "vae");
        if (Directory.Exists(inside)) return inside;
        if (config.VaeNameOrPath is { } named)
        {
            var resolved = Path.IsPathRooted(named) ? named : Path.Combine(modelFolder, named);
            if (Directory.Exists(resolved)) return resolved;
        }
        throw new NextStepException($"{modelFolder}: no VAE folder (expected {inside} or vae_name_or_path \"{config.VaeNameOrPath}\" with config.json and checkpoint.pt)");
    }

    public IReadOnlyList<RgbImage> Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default)
    {
        using var result = Run(request, progress, cancel);
        return result.Images;
    }

    /// <summary>One <c>generate_image</c> call; the result keeps the intermediates (dispose it).</summary>
    public GenerationResult Run(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default)
    {
        var variant = request.Variant ?? DefaultVariant;
        request.Validate(DownFactor, variant);
        int candidates = request.Candidates, perCaption = request.NumImagesPerCaption;
        request = request with { NumImagesPerCaption = perCaption * candidates }; // the rows sampled; best of K kept below
        bool aug2025Flow = variant != PipelineVariant.V11;
        bool genPosEmbed = aug2025Flow && (request.UseGenPosEmbed ?? Config.UseGenPosEmbed);
        int gridH = request.Height / DownFactor, gridW = request.Width / DownFactor, total = gridH * gridW;
        var posEmbed = genPosEmbed ? Model.GenPosEmbed ?? throw new NextStepException("use_gen_pos_embed is on but the checkpoint has no gen_pos_embed tensor") : null;
        if (posEmbed is not null && total > posEmbed.shape[1])
            throw new NextStepException($"size {request.Height}x{request.Width}: {total} image tokens exceed the {posEmbed.shape[1]} positions of gen_pos_embed");
        var prompts = new PromptBuilder(Tokenizer, Config.Boi, Config.Eoi, Config.ImagePlaceholderId, DownFactor, variant);
        var sampler = Samplers.Create(GenerationRequest.Name(variant));
        var linearForm = variant == PipelineVariant.V11 ? LinearCfgForm.Increasing : LinearCfgForm.Decreasing;

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();

        // 1. seed, prompt rows, input images. A seeded run draws from its own generator (the stream torch.manual_seed
        //    gives, without touching global state); unseeded, from the global one. The Aug-2025 code seeds first, so
        //    the VAE posterior draw and the head draws share one stream; v1.1 seeds after the VAE draw.
        using var generator = NewGenerator(request.Seed);
        var rows = prompts.BuildRows(request);
        Tensor? imageLatents = null;
        if (rows.ImageOrder.Count > 0)
        {
            using var preSeeded = aug2025Flow ? null : NewGenerator(request.PreSeed);
            imageLatents = EncodeImages(request.Images!, rows.ImageOrder, aug2025Flow ? generator : preSeeded);
        }
        NoiseSource noise = generator is null ? Noise.Randn : (shape, dtype, device) => torch.randn(shape, dtype, device, generator: generator);

        // 2. tokens: left-padded rows + "<|image_area|>h*w" + BOI
        var prompt = prompts.Tokenize(rows, request.Height, request.Width);
        var ids = torch.tensor(prompt.InputIds, device: Model.Device);
        int rowCount = (int)ids.shape[0], promptLen = (int)ids.shape[1], batch = rows.Batch;
        if (promptLen + total > Config.MaxPositionEmbeddings)
            throw new NextStepException($"prompt of {promptLen} tokens plus {total} image tokens ({request.Height}x{request.Width}) exceeds the model's {Config.MaxPositionEmbeddings} positions (max_position_embeddings): shorten the prompt or the image");

        // 3. prefill (the cache keeps the pad mask of the prompt slots; the image tokens are all real)
        using var cache = Model.NewCache(rowCount, promptLen + total);
        var imageTokens = imageLatents is null ? null : Model.Patchify(imageLatents);
        var hidden = Model.Prefill(Model.Embed(ids, imageTokens), torch.tensor(prompt.AttentionMask, device: Model.Device), cache);
        var prefillLast = hidden[.., (promptLen - 1)..];
        var c = WithPosition(hidden[.., -1], posEmbed, 0).clone();

        // 4. one image token at a time
        var settings = new SamplerSettings(NumSamplingSteps: request.NumSamplingSteps, TimestepsShift: request.TimestepsShift,
            NoiseRepeat: request.NumImagesPerCaption, SdeType: request.SdeType,
            CfgMult: rows.Blocks, TokenDim: Config.TokenDim);
        var tokens = torch.empty(batch, total, Config.TokenDim, Model.DType, Model.Device);
        Tensor? step0Cond = null;
        var clock = Stopwatch.StartNew();
        for (int k = 0; k < total; k++)
        {
            cancel.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            double cfg = CfgSchedules.At(request.CfgSchedule, linearForm, request.Cfg, k, total);
            double cfgImg = CfgSchedules.At(request.CfgSchedule, linearForm, request.CfgImg, k, total);
            var cond = Model.ImageOutProjector.forward(c);
            if (k == 0) step0Cond = cond.clone().MoveToOuterDisposeScope();
            var stepSettings = settings with { Cfg = cfg, CfgImg = cfgImg };
            using var head = Model.Head.Condition(cond, sampler.Timesteps(stepSettings));
            var token = sampler.Sample(head.Net, cond, stepSettings, noise);
            if (request.UseNorm) token = TokenNorm.Apply(token);
            tokens[.., k] = token;
            if (k + 1 < total) // the official loop also runs a step after the last token; its output is never used
            {
                var embeds = Model.ImageInProjector.forward(token);
                if (rows.Blocks > 1) embeds = embeds.repeat(rows.Blocks, 1);
                var h = Model.DecodeStep(embeds.unsqueeze(1), cache);
                c.copy_(WithPosition(h[.., -1], posEmbed, k + 1));
            }
            progress?.Report(new GenerationProgress(k + 1, total, batch, clock.Elapsed));
        }

        // 5. tokens → latents → pixels (every candidate)
        var latents = Vae.DenormalizeLatents(Model.Unpatchify(tokens, gridH, gridW));
        var pixels = Vae.Decode(latents).to(ScalarType.Float32);
        var images = ToImages(pixels);

        // 6. best of K: each image's candidates are consecutive rows of its caption, judged as the pictures they became
        if (candidates > 1)
        {
            var keep = BestCandidates(new CaptionScorer(Model, Tokenizer, request.Seed ?? 0, Vae, MatchHead), Detector, images, request.Captions, perCaption, candidates, new TokenGrid(gridH, gridW));
            tokens = tokens.index_select(0, torch.tensor(keep, device: tokens.device));
            latents = latents.index_select(0, torch.tensor(keep, device: latents.device));
            pixels = pixels.index_select(0, torch.tensor(keep, device: pixels.device));
            images = [.. keep.Select(i => images[(int)i])];
        }
        var result = new GenerationResult
        {
            Images = images,
            Prompt = prompt,
            ImageLatents = imageLatents?.MoveToOuterDisposeScope(),
            PrefillLastHidden = prefillLast.MoveToOuterDisposeScope(),
            Step0Cond = step0Cond!.MoveToOuterDisposeScope(),
            Tokens = tokens.MoveToOuterDisposeScope(),
            Latents = latents.MoveToOuterDisposeScope(),
            Pixels = pixels.MoveToOuterDisposeScope(),
        };
        return result;
    }

    /// <summary>
    /// Of each run of K images (captions·n runs), the index of the one <see cref="CaptionScorer.ScoreImages"/> rates
    /// highest (with the match head when there is one); with a detector, among the candidates in which it finds every
    /// claim of the caption when there are such, and of those, among the ones its tie-breaker accepts too
    /// (<see cref="ShapesDetector.Ranks"/>; captions it cannot read, or other picture sizes, leave the choice to the scorer).
    /// A detector that orders by confidence ranks the candidates of one rank by the sum of the scorer's and its own
    /// confidence, each standardised over the K candidates (<see cref="CaptionScorer.ZSum"/>).
    /// </summary>
    private static long[] BestCandidates(CaptionScorer scorer, ShapesDetector? detector, IReadOnlyList<RgbImage> images, IReadOnlyList<string> captions, int perCaption, int candidates, TokenGrid grid)
    {
        var keep = new List<long>();
        for (int c = 0; c < captions.Count; c++)
        {
            var spec = detector is not null && images[0].Width == detector.Config.ImageSize && images[0].Height == detector.Config.ImageSize
                ? ShapesCaptionParser.Parse(captions[c]) : null;
            for (int i = 0; i < perCaption; i++)
            {
                int first = (c * perCaption + i) * candidates;
                var group = images.Skip(first).Take(candidates).ToList();
                using var scores = scorer.ScoreImages(captions[c], group, grid);
                var order = scores.to(ScalarType.Float32, CPU).data<float>().ToArray();
                var (found, confidence) = spec is null ? (null, null) : detector!.Judge(group, spec);
                if (confidence is not null && detector!.Config.OrderByConfidence)
                {
                    using var likelihood = torch.tensor(order);
                    using var sure = torch.tensor(confidence);
                    using var sum = CaptionScorer.ZSum(likelihood, sure);
                    order = sum.data<float>().ToArray();
                }
                int best = Enumerable.Range(0, candidates).MaxBy(j => (found?[j] ?? 0, order[j]));
                keep.Add(first + best);
            }
        }
        return [.. keep];
    }

    /// <summary>Aug-2025 flow with <c>use_gen_pos_embed</c>: adds the table's entry for the next token (linear index, as the official code).</summary>
    private static Tensor WithPosition(Tensor c, Tensor? posEmbed, int index) => posEmbed is null ? c : Held.Add(c, posEmbed[0, index]);

    /// <summary>A generator on the model's device seeded like the official <c>set_seed(seed)</c> (rank 0); null = use the global one.</summary>
    private Generator? NewGenerator(long? seed) => seed is { } s ? new Generator(unchecked((ulong)s), Model.Device) : null;

    /// <summary>VAE posterior sample of the listed images (one draw for the whole batch), <c>(z − shift) · scale</c>.</summary>
    private Tensor EncodeImages(IReadOnlyList<RgbImage> images, IReadOnlyList<int> order, Generator? generator)
    {
        var pixels = ToPixels(order.Select(i => images[i]));
        return Vae.NormalizeLatents(Vae.EncodeSample(pixels, generator));
    }

    /// <summary>8-bit RGB → uint8 tensor [3, H, W].</summary>
    public static Tensor ToTensor(RgbImage image)
    {
        using var hwc = torch.tensor(image.Rgb, [image.Height, image.Width, 3], ScalarType.Byte);
        return hwc.permute(2, 0, 1).contiguous();
    }

    /// <summary>8-bit RGB images of one size → pixels [B, 3, H, W] in [−1, 1], as the VAE encoder reads them.</summary>
    public static Tensor ToPixels(IEnumerable<RgbImage> images)
    {
        using var scope = torch.NewDisposeScope();
        return PixelTensors.FromUInt8(torch.stack(images.Select(ToTensor).ToArray())).MoveToOuterDisposeScope();
    }

    /// <summary>VAE output [B, 3, H, W] about [−1, 1] → 8-bit RGB images (official <c>to_pil</c> rounding).</summary>
    public static IReadOnlyList<RgbImage> ToImages(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var u8 = PixelTensors.ToUInt8(pixels).permute(0, 2, 3, 1).contiguous();
        int n = (int)u8.shape[0], h = (int)u8.shape[1], w = (int)u8.shape[2];
        return Enumerable.Range(0, n).Select(i => new RgbImage(w, h, u8[i].data<byte>().ToArray())).ToList();
    }

    public void Dispose()
    {
        Model.Dispose();
        Vae.Dispose();
        MatchHead?.Dispose();
        Detector?.Dispose();
    }
}
