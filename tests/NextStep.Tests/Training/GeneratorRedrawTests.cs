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
    public void BadSettingsAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("probability 2", Assert.Throws<NextStepException>(() => new GeneratorRedrawOptions(Folder, Probability: 2).Validate("--redraw-probability 2")).Message);
        Assert.Contains("does not exist", Assert.Throws<NextStepException>(() => new GeneratorRedrawOptions("/nonexistent/model").Validate("--redraw-model")).Message);
        using var redraw = new GeneratorRedraw(new GeneratorRedrawOptions(Folder));
        Assert.Contains("1 captions for 2 images", Assert.Throws<NextStepException>(() => redraw.Apply(Latents(), Captions[..1], 0, 1)).Message);
        var options = new VaeTrainingOptions { Steps = 1, BatchSize = 2, CropSize = 0, InitFrom = Path.Combine(Folder, "vae"), FreezeEncoder = true, RecolorFraction = 0.5,
            GeneratorRedraw = new GeneratorRedrawOptions(Folder) };
        Assert.Contains("palette colours", Assert.Throws<NextStepException>(() => VaeTrainer.Train(VaeTrainer.SmallConfig, options)).Message);
    }
}
