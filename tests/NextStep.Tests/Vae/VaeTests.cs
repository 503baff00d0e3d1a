using NextStep.Imaging;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NextStep.Tests.Vae;

/// <summary>One float32 VAE of the tiny checkpoint, loaded once for all tests.</summary>
public sealed class TinyVae : IDisposable
{
    public AutoencoderKL Model { get; } = AutoencoderKL.Load(Fixtures.Path("tiny", "model", "vae"));
    public void Dispose() => Model.Dispose();
}

/// <summary>The VAE against the official encode/decode goldens (float32, reference BLAS, one thread).</summary>
[Collection(NextStep.Tests.Support.GlobalRngCollection.Name)]
public sealed class VaeTests(TinyVae tiny, ITestOutputHelper log) : IClassFixture<TinyVae>
{
    private const string Golden = "tiny/golden/golden.safetensors";
    private AutoencoderKL Vae => tiny.Model;

    private static Tensor G(string key) => Fixtures.Tensor(Golden, key);

    private void Close(Tensor expected, Tensor actual, string what, double atol = 1e-5, double rtol = 1e-5)
    {
        using var diff = (expected - actual).abs();
        log.WriteLine($"{what}: max abs diff {diff.max().item<float>():E2}, max |expected| {expected.abs().max().item<float>():G4}");
        TensorAssert.Close(expected, actual, atol, rtol, what);
    }

    [Fact]
    public void LoadsEveryCheckpointTensorWithTheShapesTheConfigImplies()
    {
        Assert.Empty(Vae.IgnoredKeys);
        Assert.Equal(176, Vae.named_parameters().Count());
        Assert.Equal(8, Vae.DownFactor);
        var shapes = Vae.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 32, 3, 3, 3 }, shapes["encoder.conv_in.weight"]);
        Assert.Equal(new long[] { 64, 32, 1, 1 }, shapes["encoder.down.2.block.0.nin_shortcut.weight"]);
        Assert.Equal(new long[] { 32, 32, 3, 3 }, shapes["encoder.down.0.downsample.conv.weight"]);
        Assert.False(shapes.ContainsKey("encoder.down.3.downsample.conv.weight"));
        Assert.Equal(new long[] { 64, 64, 1, 1 }, shapes["encoder.mid.attn_1.q.weight"]);
        Assert.Equal(new long[] { 32, 64, 3, 3 }, shapes["encoder.conv_out.weight"]);
        Assert.Equal(new long[] { 64, 16, 3, 3 }, shapes["decoder.conv_in.weight"]);
        Assert.Equal(new long[] { 32, 64, 1, 1 }, shapes["decoder.up.1.block.0.nin_shortcut.weight"]);
        Assert.True(shapes.ContainsKey("decoder.up.1.block.1.conv2.bias"));
        Assert.Equal(new long[] { 32, 32, 3, 3 }, shapes["decoder.up.1.upsample.conv.weight"]);
        Assert.False(shapes.ContainsKey("decoder.up.0.upsample.conv.weight"));
        Assert.Equal(new long[] { 3, 32, 3, 3 }, shapes["decoder.conv_out.weight"]);
    }

    [Fact]
    public void DecodeMatchesGolden()
    {
        using var z = G("vae.decode.z");
        using var expected = G("vae.decode.out");
        using var actual = Vae.Decode(z);
        Close(expected, actual, "vae.decode.out");
    }

    [Theory]
    [InlineData("edit")]
    [InlineData("t2i_wide")]
    [InlineData("t2i_multi")]
    public void PipelineDecodeAndUInt8MatchGolden(string name)
    {
        using var latents = G($"pipe.{name}.latents");
        using var expected = G($"pipe.{name}.image");
        using var image = Vae.Decode(latents);
        Close(expected, image, $"pipe.{name}.image");
        using var expectedU8 = G($"pipe.{name}.image_u8");
        using var u8 = PixelTensors.ToUInt8(image);
        AssertMostlyEqual(expectedU8, u8);
        // From the golden float image the conversion is exact.
        using var exactU8 = PixelTensors.ToUInt8(expected);
        Assert.True(Same(expectedU8, exactU8), "ToUInt8 of the golden image differs from the golden uint8 image");
    }

    [Fact]
    public void EncodeMomentsMatchGolden()
    {
        using var pixels = G("vae.pixels");
        var (mean, logvar) = Vae.EncodeMoments(pixels);
        using (mean)
        using (logvar)
        {
            using var expectedMean = G("vae.encode.mean");
            using var expectedLogvar = G("vae.encode.logvar");
            Close(expectedMean, mean, "vae.encode.mean");
            Close(expectedLogvar, logvar, "vae.encode.logvar");
        }
    }

    [Fact]
    public void EncodeSampleDrawsOneRandnOfTheMeanShape()
    {
        using var pixels = G("vae.pixels");
        using var noise = G("vae.encode.noise0");
        using var expected = G("vae.encode.sample");
        var (mean, logvar) = Vae.EncodeMoments(pixels);
        using (mean)
        using (logvar)
        using (var injected = Vae.SamplePosterior(mean, logvar, noise))
            Close(expected, injected, "vae.encode.sample (recorded noise)");

        var generator = new Generator(7);
        using var sample = Vae.EncodeSample(pixels, generator);
        Close(expected, sample, "vae.encode.sample (seed 7)");
        using var next = randn([1], generator: generator);
        manual_seed(7);
        using var reference = randn(noise.shape);
        using var afterOne = randn([1]);
        Assert.True(Same(reference, noise), "torch.manual_seed(7); randn does not reproduce the recorded noise");
        Assert.Equal(afterOne.item<float>(), next.item<float>());
    }

    [Fact]
    public void EditLatentsMatchGolden()
    {
        // The edit case encodes the photo twice (cond row + image-CFG row) with one [2,16,8,8] posterior draw.
        using var pixels = G("vae.pixels");
        using var both = cat([pixels, pixels], 0);
        using var noise = G("pipe.edit.noise0");
        var (mean, logvar) = Vae.EncodeMoments(both);
        using (mean)
        using (logvar)
        {
            using var sample = Vae.SamplePosterior(mean, logvar, noise);
            using var latents = Vae.NormalizeLatents(sample);
            using var expected = G("pipe.edit.image_latents");
            Close(expected, latents, "pipe.edit.image_latents");
            using var back = Vae.DenormalizeLatents(latents);
            Close(sample, back, "denormalize ∘ normalize", atol: 1e-6, rtol: 0);
        }
    }

    [Fact]
    public void PixelsFromUInt8MatchThePipelinesNormalisation()
    {
        using var expected = G("vae.pixels");
        using var u8 = ((expected + 1) / 2 * 255).round().to_type(ScalarType.Byte);
        using var pixels = PixelTensors.FromUInt8(u8);
        Assert.True(Same(expected, pixels), "uint8 → [−1, 1] differs from the pipeline's pixels");
        Assert.Throws<NextStepException>(() => PixelTensors.FromUInt8(expected));
    }

    [Fact]
    public void BFloat16VaeRunsAndStaysClose()
    {
        using var vae = AutoencoderKL.Load(Fixtures.Path("tiny", "model", "vae"), ScalarType.BFloat16);
        using var z = G("vae.decode.z");
        using var expected = G("vae.decode.out");
        using var actual = vae.Decode(z);
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
        using var f = actual.to_type(ScalarType.Float32);
        TensorAssert.Close(expected, f, atol: 0.1, what: "bf16 decode");
    }

    [Fact]
    public void BadInputsAndWeightsAreReportedByName()
    {
        using var wrongChannels = zeros(1, 4, 8, 8);
        Assert.Contains("expected [B, 16, H, W]", Assert.Throws<NextStepException>(() => Vae.Decode(wrongChannels)).Message);
        using var oddSize = zeros(1, 3, 24, 24);
        Assert.Contains("multiples of 16", Assert.Throws<NextStepException>(() => Vae.EncodeMoments(oddSize)).Message);

        var config = Vae.Config;
        using var ck = TorchZipCheckpoint.Load(Fixtures.Path("tiny", "model", "vae", "checkpoint.pt"));
        var weights = ck.Tensors.Where(kv => kv.Key != "decoder.mid.attn_1.q.bias").ToDictionary();
        using var wrong = zeros(7);
        weights["encoder.conv_in.bias"] = wrong;
        using var extra = zeros(1);
        weights["encoder.quant_conv.weight"] = extra;
        var e = Assert.Throws<NextStepException>(() => AutoencoderKL.FromStateDict(config, weights, "test.pt"));
        Assert.Contains("1 missing key(s): decoder.mid.attn_1.q.bias", e.Message);
        Assert.Contains("encoder.conv_in.bias is [7], expected [32]", e.Message);

        weights["encoder.conv_in.bias"] = ck.Tensors["encoder.conv_in.bias"];
        weights["decoder.mid.attn_1.q.bias"] = ck.Tensors["decoder.mid.attn_1.q.bias"];
        using var vae = AutoencoderKL.FromStateDict(config, weights, "test.pt");
        Assert.Equal(["encoder.quant_conv.weight"], vae.IgnoredKeys);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>uint8 images: ≥ 99.9 % of values equal and none off by more than 1.</summary>
    private void AssertMostlyEqual(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (expected.to_type(ScalarType.Int32) - actual.to_type(ScalarType.Int32)).abs();
        long differing = diff.gt(0).sum().item<long>();
        int worst = diff.max().item<int>();
        log.WriteLine($"uint8: {differing} of {diff.numel()} values differ, worst by {worst}");
        Assert.True(worst <= 1, $"a uint8 value is off by {worst}");
        Assert.True(differing <= diff.numel() / 1000, $"{differing} of {diff.numel()} uint8 values differ");
    }
}
