using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Pipeline;

/// <summary>Progress, cancellation, defaults and argument validation of the pipeline.</summary>
[Xunit.Collection(NextStep.Tests.Support.GlobalRngCollection.Name)]
public class PipelineBehaviourTests
{
    private static GenerationRequest Small => new() { Captions = ["a red circle"], Height = 32, Width = 32, NumSamplingSteps = 2, Variant = PipelineVariant.GitHub2025 };

    private sealed class Recorder(Action<GenerationProgress>? then = null) : IProgress<GenerationProgress>
    {
        public List<GenerationProgress> Reports { get; } = [];
        public void Report(GenerationProgress value) { Reports.Add(value); then?.Invoke(value); }
    }

    [Fact]
    public void ReportsEveryImageTokenAndStopsWhenCancelled()
    {
        using var pipeline = NextStepPipeline.Load(Fixtures.TinyModel);
        Assert.Equal(PipelineVariant.HF, pipeline.DefaultVariant);
        Assert.Equal(16, pipeline.DownFactor);

        var all = new Recorder();
        var images = pipeline.Generate(Small with { NumImagesPerCaption = 2 }, all);
        Assert.Equal(2, images.Count);
        Assert.Equal([1, 2, 3, 4], all.Reports.Select(r => r.Token));
        Assert.All(all.Reports, r => Assert.Equal((4, 2), (r.TotalTokens, r.Images)));

        using var cts = new CancellationTokenSource();
        var partial = new Recorder(r => { if (r.Token == 2) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate(Small, partial, cts.Token));
        Assert.Equal(2, partial.Reports.Count);
    }

    [Fact]
    public void Bfloat16RunsCloseToFloat32()
    {
        using var f32 = NextStepPipeline.Load(Fixtures.TinyModel);
        using var bf16 = NextStepPipeline.Load(Fixtures.TinyModel, new PipelineOptions { DType = TorchSharp.torch.ScalarType.BFloat16 });
        var request = Small with { Cfg = 3, UseNorm = true };
        var a = f32.Generate(request)[0];
        var b = bf16.Generate(request)[0];
        double meanAbs = a.Rgb.Zip(b.Rgb, (x, y) => Math.Abs(x - y)).Average();
        Assert.InRange(meanAbs, 0, 4); // measured 0.82
    }

    [Theory]
    [InlineData(PipelineVariant.GitHub2025, "needs exactly one per caption")]
    [InlineData(PipelineVariant.V11, null)]
    public void TwoImageTagsInOneCaptionOnlyForV11(PipelineVariant variant, string? error)
    {
        var img = new RgbImage(16, 16, new byte[16 * 16 * 3]);
        var request = Small with { Captions = ["<image> and <image>"], Images = [img, img], Variant = variant };
        if (error is null) request.Validate(16, variant);
        else Assert.Contains(error, Assert.Throws<NextStepException>(() => request.Validate(16, variant)).Message);
    }

    [Theory]
    [InlineData(PipelineVariant.GitHub2025, 1, 1.0, 1.0, "must be at least 2")]
    [InlineData(PipelineVariant.HF, 0, 1.0, 1.0, "must be at least 1")]
    [InlineData(PipelineVariant.HF, 4, 1.0, 2.0, "needs cfg > 1")]
    [InlineData(PipelineVariant.HF, 4, 3.0, 2.0, "needs an input image")]
    [InlineData(PipelineVariant.HF, 4, double.NaN, 1.0, "cfg = NaN")]
    public void RejectsArgumentsTheOfficialCodeMishandles(PipelineVariant variant, int steps, double cfg, double cfgImg, string error)
    {
        var request = Small with { NumSamplingSteps = steps, Cfg = cfg, CfgImg = cfgImg };
        Assert.Contains(error, Assert.Throws<NextStepException>(() => request.Validate(16, variant)).Message);
    }

    [Fact]
    public void ImageCountMustMatchTheTagsAndImagesTheGrid()
    {
        var img = new RgbImage(16, 16, new byte[16 * 16 * 3]);
        Assert.Contains("counts must match", Assert.Throws<NextStepException>(() => (Small with { Captions = ["<image>x"], Images = [img, img] }).Validate(16, PipelineVariant.V11)).Message);
        Assert.Contains("no input image", Assert.Throws<NextStepException>(() => (Small with { Captions = ["<image>x"] }).Validate(16, PipelineVariant.HF)).Message);
        var odd = new RgbImage(20, 16, new byte[20 * 16 * 3]);
        Assert.Contains("resize it first", Assert.Throws<NextStepException>(() => (Small with { Captions = ["<image>x"], Images = [odd] }).Validate(16, PipelineVariant.HF)).Message);
        Assert.Contains("sde_type", Assert.Throws<NextStepException>(() => (Small with { SdeType = "ode" }).Validate(16, PipelineVariant.HF)).Message);
    }
}
