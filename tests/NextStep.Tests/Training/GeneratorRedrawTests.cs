using NextStep.Tests.Support;
using NextStep.Training;
using NextStep.Training.Shapes;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>Decoder training on the generator's redrawn tokens (<see cref="GeneratorRedraw"/>), with the committed default model.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class GeneratorRedrawTests
{
    private static string Folder => Fixtures.DefaultModel;
    private static readonly string[] Captions = ["a red circle above a blue square", "three green triangles"];

    /// <summary>Raw latents [2, 16, 8, 8] of the default VAE's size, in a space with shift 0.3 and scale 1.7.</summary>
    private static Tensor Latents() { manual_seed(5); return randn([2, 16, 8, 8]) / 1.7 + 0.3; }

    [Fact]
    public void ProbabilityZeroKeepsEveryToken()
    {
        using var scope = NewDisposeScope();
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder, Probability: 0));
        var z = Latents();
        TensorAssert.Close(z, redraw.Apply(z, Captions, 0.3, 1.7), atol: 1e-6, what: "latents with no token redrawn");
    }

    [Fact]
    public void ARedrawStartedAtTheEndIsTheTokenItself()
    {
        // One Euler step from flow time 0.999: x = 0.999·z + 0.001·ε, then 0.001 of a velocity: within about 0.01 of
        // the token, after the token-space round trip (shift, scale, patches) and back. Catches a wrong patch order,
        // scaling or caption row (any of them moves a token by about its own size, 1).
        using var scope = NewDisposeScope();
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder, Probability: 1, Start: 0.999, Steps: 1));
        var z = Latents();
        TensorAssert.Close(z, redraw.Apply(z, Captions, 0.3, 1.7), atol: 0.02, what: "latents redrawn from t = 0.999");
    }

    [Fact]
    public void ARedrawFromNoiseIsTheGeneratorsOwnToken()
    {
        using var scope = NewDisposeScope();
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder, Probability: 1, Start: 0, Steps: 8));
        var z = Latents();
        var drawn = redraw.Apply(z, Captions, 0.3, 1.7);
        Assert.Equal(z.shape, drawn.shape);
        Assert.True(drawn.isfinite().all().item<bool>(), "redrawn latents hold NaN or infinity");
        // Drawn from noise, the tokens owe the input nothing: far from the input on average (a unit-variance token space).
        double change = ((drawn - z) * 1.7).abs().mean().item<float>();
        Assert.True(change > 0.3, $"tokens redrawn from noise moved by {change:F3} on average, expected a change of the order of 1");
    }

    [Fact]
    public void AnImageWithoutACaptionKeepsItsTokens()
    {
        // Scenes with a recoloured object have no caption to redraw from: their latents pass through (up to the
        // token-space round trip), while the captioned image beside them is redrawn from noise.
        using var scope = NewDisposeScope();
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder, Probability: 1, Start: 0, Steps: 8));
        var z = Latents();
        var drawn = redraw.Apply(z, [null, Captions[1]], 0.3, 1.7);
        TensorAssert.Close(z[0], drawn[0], atol: 1e-5, what: "latents of the image without a caption");
        double change = ((drawn[1] - z[1]) * 1.7).abs().mean().item<float>();
        Assert.True(change > 0.3, $"the captioned image's tokens moved by {change:F3} on average, expected a change of the order of 1");
        TensorAssert.Close(z, redraw.Apply(z, [null, null], 0.3, 1.7), atol: 0, what: "latents of a batch with no caption");
    }

    [Fact]
    public void OnlyScenesInPaletteColoursAreRedrawn()
    {
        var scenes = Enumerable.Range(0, 40).Select(i => ShapesDataset.Scene(0, i, ShapesSplit.Train)).ToList();
        var palette = scenes.Select(s => (IReadOnlyList<(byte R, byte G, byte B)>?)s.Objects.Select(o => ShapesVocabulary.Rgb(o.Color)).ToArray()).ToList();
        var none = scenes.Select(_ => (IReadOnlyList<(byte R, byte G, byte B)>?)null).ToList();
        var recoloured = scenes.Select((s, i) => (IReadOnlyList<(byte R, byte G, byte B)>?)ShapesRecolor.Colors(s, new Random(i), 1)).ToList();
        Assert.Equal(scenes.Select(s => s.Caption), VaeTrainer.RedrawCaptions(scenes, none));
        Assert.Equal(scenes.Select(s => s.Caption), VaeTrainer.RedrawCaptions(scenes, palette));
        Assert.All(VaeTrainer.RedrawCaptions(scenes, recoloured), Assert.Null);
        // One object of a two-object scene recoloured is enough to lose the caption.
        int two = scenes.FindIndex(s => s.Objects.Count == 2);
        var mixed = palette.ToList();
        mixed[two] = [palette[two]![0], recoloured[two]![1]];
        var captions = VaeTrainer.RedrawCaptions(scenes, mixed);
        Assert.Null(captions[two]);
        Assert.Equal(scenes.Count - 1, captions.Count(c => c is not null));
    }

    [Fact]
    public void BadSettingsAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("probability 2", Assert.Throws<NextStepException>(() => new GeneratorRedrawOptions(Folder, Probability: 2).Validate("--redraw-probability 2")).Message);
        Assert.Contains("does not exist", Assert.Throws<NextStepException>(() => new GeneratorRedrawOptions("/nonexistent/model").Validate("--redraw-model")).Message);
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder));
        Assert.Contains("1 captions for 2 images", Assert.Throws<NextStepException>(() => redraw.Apply(Latents(), Captions[..1], 0, 1)).Message);
        var options = new VaeTrainingOptions { Steps = 1, BatchSize = 2, InitFrom = Path.Combine(Folder, "vae"), FreezeEncoder = true, CropSize = 32,
            GeneratorRedraw = new GeneratorRedrawOptions(Folder) };
        Assert.Contains("whole images (crop 0)", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, options)).Message);
    }
}
