using NextStep.Config;
using NextStep.Imaging;
using NextStep.Loading;
using NextStep.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Training.Shapes;

/// <summary>
/// <c>detector/config.json</c> of a model folder: the convolutions of its <see cref="ShapesDetector"/> (output channels
/// and stride of each 3×3 layer; the strides' product is the grid cell in pixels), the picture size it reads, and the
/// peak score from which a heatmap maximum counts as an object. <see cref="Factorised"/> detectors read shapes from a
/// colour-blind picture and colours from pixel colours alone (<see cref="ShapesDetector"/>). A <see cref="Mirror"/>
/// detector also reads each picture mirrored left to right when it ranks candidates; <see cref="OrderByConfidence"/>
/// orders the candidates of one rank by caption likelihood and its confidence together (see the pipeline's best of K).
/// </summary>
public sealed record ShapesDetectorConfig(IReadOnlyList<int> Channels, IReadOnlyList<int> Strides, int ImageSize = ShapesRenderer.DefaultSize, double Threshold = ShapesDetectorConfig.DefaultThreshold, bool Factorised = false,
    bool Mirror = false, bool OrderByConfidence = false)
{
    public const string FolderName = "detector";
    public const string ModelType = "nextstep_shapes_detector";
    public const double DefaultThreshold = 0.3;

    public static ShapesDetectorConfig Default { get; } = new([32, 48, 64, 64, 64, 64, 64], [1, 2, 1, 2, 1, 1, 1]);

    /// <summary>Cells per side of the output grid.</summary>
    public int GridSize => ImageSize / Strides.Aggregate(1, (a, s) => a * s);

    public void Save(string path)
    {
        var j = new System.Text.Json.Nodes.JsonObject
        {
            ["model_type"] = ModelType,
            ["channels"] = new System.Text.Json.Nodes.JsonArray([.. Channels.Select(c => (System.Text.Json.Nodes.JsonNode)c)]),
            ["strides"] = new System.Text.Json.Nodes.JsonArray([.. Strides.Select(c => (System.Text.Json.Nodes.JsonNode)c)]),
            ["image_size"] = ImageSize,
            ["threshold"] = Threshold,
            ["factorised"] = Factorised,
            ["mirror"] = Mirror,
            ["order_by_confidence"] = OrderByConfidence,
        };
        File.WriteAllText(path, j.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public static ShapesDetectorConfig Load(string path)
    {
        var j = JsonConfig.Load(path);
        if (j.StringOrNull("model_type") is { } t && t != ModelType)
            throw new NextStepException($"{path}: model_type \"{t}\" is not a Shapes detector (expected \"{ModelType}\")");
        var c = new ShapesDetectorConfig(j.IntArray("channels"), j.IntArray("strides"), j.Int("image_size", ShapesRenderer.DefaultSize), j.Double("threshold", DefaultThreshold), j.Bool("factorised", false),
            j.Bool("mirror", false), j.Bool("order_by_confidence", false));
        int cell = c.Strides.Aggregate(1, (a, s) => a * Math.Max(s, 1));
        if (c.Channels.Count == 0 || c.Channels.Count != c.Strides.Count || c.Channels.Any(x => x < 16) || c.Strides.Any(s => s is < 1 or > 2)
            || c.ImageSize < 8 || c.ImageSize % cell != 0 || !(c.Threshold is > 0 and < 1))
            throw new NextStepException($"{path}: expected as many channels (each ≥ 16) as strides (each 1 or 2), image_size ({c.ImageSize}) divisible by the strides' product ({cell}) and a threshold between 0 and 1 (got {c.Threshold})");
        return c;
    }
}

/// <summary>An object the detector found: its shape, colour and centre (image fractions), and its peak score.</summary>
public sealed record DetectedObject(ShapeKind Shape, ShapeColor Color, double CenterX, double CenterY, double Score)
{
    /// <summary>As a zero-sized <see cref="ShapeObject"/> at the centre, which is all <see cref="ShapesJudge"/> reads.</summary>
    public ShapeObject ToShapeObject() => new(Shape, Color, CenterX, CenterY, 0, 0);
}

/// <summary>What the detector read in one picture.</summary>
public sealed record ShapesDetection(ShapeColor Background, IReadOnlyList<DetectedObject> Objects)
{
    /// <summary><see cref="ShapesJudge"/> on the detected objects.</summary>
    public ShapesVerdict Judge(ShapesSpec spec) => ShapesJudge.Judge(spec, Background, [.. Objects.Select(o => o.ToShapeObject())]);
}

/// <summary>
/// A small convolutional object detector for the Shapes world, CenterNet style: 3×3 convolutions with GroupNorm and
/// ReLU down to a grid of cells, then per cell one centre heatmap per shape, logits of the object colours and the
/// centre's offset inside the cell, and background logits from the mean of all cells. Trained on renderer scenes of
/// the train split seen through the model's VAE (<see cref="ShapesDetectorTrainer"/>); best-of-K uses it as a
/// verifier of the caption's claims (<see cref="Pipeline.CaptionScorer"/>).
/// <para>
/// A factorised detector cannot bind shapes to colours: its convolutions see only a colour-blind picture (how far
/// each pixel is from the background colour, the median of the border pixels, and how much the colour changes to its
/// neighbours, both squashed by tanh), so heatmaps and offsets come from silhouettes; colour logits come from a
/// per-cell MLP of the cell's mean colour, its centre's mean colour and the background colour, and background logits
/// from the background and mean colours. A shape it learnt in some colours it reads the same in any other.
/// </para>
/// </summary>
public sealed class ShapesDetector : nn.Module<Tensor, (Tensor Cells, Tensor Background)>
{
    public static readonly ShapeKind[] Shapes = ShapesVocabulary.Kinds;
    public static readonly ShapeColor[] Colors = ShapesVocabulary.ObjectColors;
    public static readonly ShapeColor[] Backgrounds = [.. ShapesVocabulary.BackgroundColors];

    /// <summary>Output channels per cell: heatmaps, colour logits, offsets (x, y).</summary>
    public static int CellChannels => Shapes.Length + Colors.Length + 2;

    private readonly ModuleList<ConvLayer> convs;
    private readonly ModuleList<GroupNorm> norms;
    private readonly ConvLayer cells;
    private readonly TorchSharp.Modules.Linear background;
    private readonly ModuleList<ConvLayer>? colour;

    /// <summary>Per-cell colour inputs of a factorised detector: cell mean, centre mean, background (RGB each).</summary>
    private const int ColourInputs = 9;
    private const int ColourHidden = 64;

    public ShapesDetectorConfig Config { get; }

    public ShapesDetector(ShapesDetectorConfig config) : base(nameof(ShapesDetector))
    {
        Config = config;
        var layers = new List<ConvLayer>();
        var groupNorms = new List<GroupNorm>();
        int inChannels = config.Factorised ? 2 : 3;
        for (int i = 0; i < config.Channels.Count; i++)
        {
            layers.Add(new ConvLayer(inChannels, config.Channels[i], 3, config.Strides[i], 1, ScalarType.Float32, CPU));
            groupNorms.Add(nn.GroupNorm(8, config.Channels[i]));
            inChannels = config.Channels[i];
        }
        convs = new ModuleList<ConvLayer>([.. layers]);
        norms = new ModuleList<GroupNorm>([.. groupNorms]);
        if (config.Factorised)
        {
            cells = new ConvLayer(inChannels, Shapes.Length + 2, 1, 1, 0, ScalarType.Float32, CPU);
            colour = new ModuleList<ConvLayer>(
                new ConvLayer(ColourInputs, ColourHidden, 1, 1, 0, ScalarType.Float32, CPU),
                new ConvLayer(ColourHidden, ColourHidden, 1, 1, 0, ScalarType.Float32, CPU),
                new ConvLayer(ColourHidden, Colors.Length, 1, 1, 0, ScalarType.Float32, CPU));
            background = nn.Linear(6, Backgrounds.Length);
        }
        else
        {
            cells = new ConvLayer(inChannels, CellChannels, 1, 1, 0, ScalarType.Float32, CPU);
            background = nn.Linear(inChannels, Backgrounds.Length);
        }
        RegisterComponents();
        Initialise();
    }

    /// <summary>
    /// Conv weights and biases U(−1/√fan_in, 1/√fan_in) as PyTorch's default; GroupNorm weight 1 and bias 0 (TorchSharp
    /// 0.107's GroupNorm leaves them uninitialised); heatmap biases −2.19 (a 0.1 prior, as CenterNet).
    /// </summary>
    private void Initialise()
    {
        using var noGrad = no_grad();
        foreach (var norm in norms)
            foreach (var (name, p) in norm.named_parameters())
                if (name == "weight") nn.init.ones_(p); else p.zero_();
        foreach (var conv in convs.Append(cells).Concat(colour ?? []))
        {
            var p = conv.named_parameters().ToDictionary(x => x.name, x => x.parameter);
            double bound = 1.0 / Math.Sqrt(p["weight"].shape[1] * p["weight"].shape[2] * p["weight"].shape[3]);
            p["weight"].uniform_(-bound, bound);
            p["bias"].uniform_(-bound, bound);
        }
        var cellBias = cells.named_parameters().First(x => x.name == "bias").parameter;
        using Scalar prior = -2.19;
        cellBias[..Shapes.Length].fill_(prior);
        foreach (var p in parameters()) p.requires_grad_(true); // ConvLayer's parameters start without gradients
    }

    /// <summary>Pixels [B, 3, S, S] in [−1, 1] → cell outputs [B, <see cref="CellChannels"/>, G, G] and background logits [B, 3].</summary>
    public override (Tensor Cells, Tensor Background) forward(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != 3 || pixels.shape[2] != Config.ImageSize || pixels.shape[3] != Config.ImageSize)
            throw new NextStepException($"Shapes detector: pixels have shape [{string.Join(", ", pixels.shape)}], expected [B, 3, {Config.ImageSize}, {Config.ImageSize}]");
        if (Config.Factorised) return FactorisedForward(pixels);
        var x = pixels;
        for (int i = 0; i < convs.Count; i++) x = nn.functional.relu(norms[i].forward(convs[i].forward(x)));
        return (cells.forward(x), background.forward(x.mean([2, 3])));
    }

    private (Tensor Cells, Tensor Background) FactorisedForward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        long s = pixels.shape[2];
        int cell = (int)(s / Config.GridSize);
        var border = cat([pixels[.., .., 0, ..], pixels[.., .., s - 1, ..], pixels[.., .., .., 0], pixels[.., .., .., s - 1]], 2);
        var (sorted, _) = border.sort(2);
        var bg = sorted.select(2, sorted.shape[2] / 2);                    // [B, 3], the border's median colour
        var x = ColourBlind(pixels, bg);
        for (int i = 0; i < convs.Count; i++) x = nn.functional.relu(norms[i].forward(convs[i].forward(x)));
        var shapeCells = cells.forward(x);                                   // heatmaps, then offsets
        var cellMean = nn.functional.avg_pool2d(pixels, cell);
        int lo = cell / 2 - 1;
        var centreMean = nn.functional.avg_pool2d(pixels[.., .., lo.., lo..], 2, cell);
        var bgMap = bg.unsqueeze(2).unsqueeze(3).expand(-1, -1, cellMean.shape[2], cellMean.shape[3]);
        var c = cat([cellMean, centreMean, bgMap], 1);
        for (int i = 0; i < colour!.Count; i++) c = i < colour.Count - 1 ? nn.functional.relu(colour[i].forward(c)) : colour[i].forward(c);
        int k = Shapes.Length;
        var output = cat([shapeCells[.., ..k], c, shapeCells[.., k..]], 1);
        var bgLogits = background.forward(cat([bg, pixels.mean([2, 3])], 1));
        return (output.MoveToOuterDisposeScope(), bgLogits.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// [B, 2, S, S]: tanh(‖pixel − background‖ / 0.25) and tanh(‖colour change to the right and below‖ / 0.25), pixels
    /// in [−1, 1]; neither says which colour anything is.
    /// </summary>
    public static Tensor ColourBlind(Tensor pixels, Tensor background)
    {
        using var scope = NewDisposeScope();
        using Scalar scale = 4.0, tiny = 1e-8;
        var away = Held.Square(Held.Sub(pixels, background.unsqueeze(2).unsqueeze(3))).sum(1, keepdim: true).sqrt().mul(scale).tanh();
        var dx = nn.functional.pad(Held.Sub(pixels[.., .., .., 1..], pixels[.., .., .., ..^1]), [0, 1, 0, 0]);
        var dy = nn.functional.pad(Held.Sub(pixels[.., .., 1.., ..], pixels[.., .., ..^1, ..]), [0, 0, 0, 1]);
        var change = Held.Add(Held.Add(Held.Square(dx), Held.Square(dy)).sum(1, keepdim: true), tiny).sqrt().mul(scale).tanh();
        return cat([away, change], 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The objects and background in each picture: heatmap maxima (3×3 neighbourhood) of at least <paramref name="threshold"/>
    /// (default: the config's). <paramref name="mirrored"/> reads the pictures mirrored left to right and reports the
    /// objects where they are in the pictures as given.
    /// </summary>
    public IReadOnlyList<ShapesDetection> Detect(IReadOnlyList<RgbImage> images, double? threshold = null, bool mirrored = false)
    {
        double minimum = threshold ?? Config.Threshold;
        if (images.Any(im => im.Width != Config.ImageSize || im.Height != Config.ImageSize))
            throw new NextStepException($"Shapes detector: it reads {Config.ImageSize}×{Config.ImageSize} pictures, got {string.Join(", ", images.Select(im => $"{im.Width}×{im.Height}").Distinct())}");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var pixels = Pipeline.NextStepPipeline.ToPixels(images);
        var (output, bg) = forward(mirrored ? pixels.flip(3) : pixels);
        int k = Shapes.Length, g = Config.GridSize;
        var heat = output[.., ..k].sigmoid();
        var (best, shape) = heat.max(1);
        var peak = best.eq(nn.functional.max_pool2d(best.unsqueeze(1), 3, 1, 1).squeeze(1));
        var colour = output[.., k..(k + Colors.Length)].argmax(1);
        var offset = output[.., (k + Colors.Length)..].sigmoid();
        var bgIndex = bg.argmax(1).data<long>().ToArray();
        float[] bestA = best.contiguous().data<float>().ToArray(), offA = offset.contiguous().data<float>().ToArray();
        long[] shapeA = shape.contiguous().data<long>().ToArray(), colourA = colour.contiguous().data<long>().ToArray();
        bool[] peakA = peak.contiguous().data<bool>().ToArray();
        var result = new List<ShapesDetection>();
        for (int b = 0; b < images.Count; b++)
        {
            var objects = new List<DetectedObject>();
            for (int cell = 0; cell < g * g; cell++)
            {
                int i = b * g * g + cell;
                if (!peakA[i] || bestA[i] < minimum) continue;
                int row = cell / g, col = cell % g;
                double ox = offA[(b * 2) * g * g + cell], oy = offA[(b * 2 + 1) * g * g + cell];
                double x = (col + ox) / g;
                objects.Add(new DetectedObject(Shapes[shapeA[i]], Colors[colourA[i]], mirrored ? 1 - x : x, (row + oy) / g, bestA[i]));
            }
            result.Add(new ShapesDetection(Backgrounds[bgIndex[b]], objects));
        }
        return result;
    }

    /// <summary>
    /// A second detector (<c>detector/tie_breaker/</c>) that ranks the candidates this one accepts alike (see
    /// <see cref="Ranks"/>); null when there is none.
    /// </summary>
    public ShapesDetector? TieBreaker { get; private set; }

    /// <summary>Sub-folder of a detector folder that holds its <see cref="TieBreaker"/>.</summary>
    public const string TieBreakerFolder = "tie_breaker";

    /// <summary>How best of K uses the chain, for reports: "the detector (mirrored too, by confidence) and its tie-breaker (mirrored too)".</summary>
    public string Description => "the detector" + Ways(Config) + (TieBreaker is { } t ? " and its tie-breaker" + Ways(t.Config) : "");

    private static string Ways(ShapesDetectorConfig c)
    {
        var ways = new List<string>();
        if (c.Mirror) ways.Add("mirrored too");
        if (c.OrderByConfidence) ways.Add("by confidence");
        return ways.Count == 0 ? "" : $" ({string.Join(", ", ways)})";
    }

    /// <summary>Readings of each picture: the picture, and its mirror image when <see cref="ShapesDetectorConfig.Mirror"/>.</summary>
    private int Views => Config.Mirror ? 2 : 1;

    /// <summary>Distinct ranks of the chain: (views + 1) of this detector times its tie-breaker's.</summary>
    public int Levels => (Views + 1) * (TieBreaker?.Levels ?? 1);

    /// <summary>
    /// How well each picture bears out <paramref name="spec"/>, to compare candidates by: in how many of this detector's
    /// views it finds every claim decides, the tie-breaker's rank only among pictures this one judges alike (one view
    /// each, one tie-breaker: 3 both, 2 only this one, 1 only the tie-breaker, 0 neither).
    /// </summary>
    public int[] Ranks(IReadOnlyList<RgbImage> images, ShapesSpec spec) => Judge(images, spec).Ranks;

    /// <summary>
    /// <see cref="Ranks"/>, and this detector's confidence in each picture: the lowest peak score among its detections
    /// (1 when it finds none), averaged over its views.
    /// </summary>
    public (int[] Ranks, float[] Confidence) Judge(IReadOnlyList<RgbImage> images, ShapesSpec spec)
    {
        var votes = new int[images.Count];
        var confidence = new float[images.Count];
        for (int view = 0; view < Views; view++)
        {
            var found = Detect(images, mirrored: view == 1);
            for (int i = 0; i < images.Count; i++)
            {
                if (found[i].Judge(spec).Correct) votes[i]++;
                confidence[i] += (float)found[i].Objects.Select(o => o.Score).DefaultIfEmpty(1).Min() / Views;
            }
        }
        var theirs = TieBreaker?.Ranks(images, spec) ?? new int[images.Count];
        int below = TieBreaker?.Levels ?? 1;
        return ([.. votes.Select((v, i) => v * below + theirs[i])], confidence);
    }

    /// <summary>Loads <c>detector/</c> (config.json, model.safetensors, and <c>tie_breaker/</c> when there is one) of a model folder; null when the folder has none.</summary>
    public static ShapesDetector? LoadFrom(string modelFolder)
    {
        var dir = Path.Combine(modelFolder, ShapesDetectorConfig.FolderName);
        return Directory.Exists(dir) ? LoadDirectory(dir) : null;
    }

    private static ShapesDetector LoadDirectory(string dir)
    {
        var config = ShapesDetectorConfig.Load(Path.Combine(dir, "config.json"));
        var detector = WeightFiles.Loaded(new ShapesDetector(config), dir, $"a Shapes detector with channels [{string.Join(", ", config.Channels)}] and strides [{string.Join(", ", config.Strides)}]{(config.Factorised ? ", factorised" : "")}");
        var tie = Path.Combine(dir, TieBreakerFolder);
        if (!Directory.Exists(tie)) return detector;
        try
        {
            detector.TieBreaker = LoadDirectory(tie);
            if (detector.TieBreaker.Config.ImageSize != config.ImageSize)
                throw new NextStepException($"{tie}: the tie-breaker reads {detector.TieBreaker.Config.ImageSize}×{detector.TieBreaker.Config.ImageSize} pictures, the detector above it {config.ImageSize}×{config.ImageSize}; expected the same size");
        }
        catch { detector.Dispose(); throw; }
        return detector;
    }

    /// <summary>Writes config.json and model.safetensors (tensors as <paramref name="storage"/>, float32 unless given) into <paramref name="dir"/>; not the tie-breaker.</summary>
    public void Save(string dir, ScalarType storage = ScalarType.Float32) => WeightFiles.Save(this, dir, Config.Save, storage);

    protected override void Dispose(bool disposing)
    {
        if (disposing) TieBreaker?.Dispose();
        base.Dispose(disposing);
    }
}
