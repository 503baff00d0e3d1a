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
    public void RealSizeLayoutMatchesTheFluxVaeInventory()
    {
        // Default config = NextStep-1's f8ch16 VAE: FLUX.1's VAE has 83,819,683 parameters (34,274,208 encoder).
        using var vae = new AutoencoderKL(new NextStep.Config.VaeConfig(), ScalarType.Float32, CPU);
        var shapes = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(83_819_683L, shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
        Assert.Equal(34_274_208L, shapes.Where(kv => kv.Key.StartsWith("encoder.")).Sum(kv => kv.Value.Aggregate(1L, (a, b) => a * b)));
        Assert.Equal(["decoder.up.0.block.0.nin_shortcut.weight", "decoder.up.1.block.0.nin_shortcut.weight",
            "encoder.down.1.block.0.nin_shortcut.weight", "encoder.down.2.block.0.nin_shortcut.weight"],
            shapes.Keys.Where(k => k.EndsWith("nin_shortcut.weight")).Order(StringComparer.Ordinal));
        Assert.Equal(["encoder.down.0", "encoder.down.1", "encoder.down.2"], shapes.Keys.Where(k => k.EndsWith("downsample.conv.weight")).Select(k => k[..14]).Order());
        Assert.Equal(["decoder.up.1", "decoder.up.2", "decoder.up.3"], shapes.Keys.Where(k => k.EndsWith("upsample.conv.weight") && k.StartsWith("decoder")).Select(k => k[..12]).Order());
        Assert.Equal(new long[] { 256, 512, 3, 3 }, shapes["decoder.up.1.block.0.conv1.weight"]);
        Assert.Equal(new long[] { 128, 128, 3, 3 }, shapes["decoder.up.0.block.2.conv2.weight"]);
        Assert.Equal(new long[] { 512, 512, 1, 1 }, shapes["encoder.mid.attn_1.proj_out.weight"]);
        Assert.Equal(new long[] { 32, 512, 3, 3 }, shapes["encoder.conv_out.weight"]);
        Assert.Equal(new long[] { 512, 16, 3, 3 }, shapes["decoder.conv_in.weight"]);
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
    public void LoadingDoesNotDrawFromTheGlobalGenerator()
    {
        manual_seed(3);
        using var expected = randn(8);
        manual_seed(3);
        AutoencoderKL.Load(Fixtures.Path("tiny", "model", "vae")).Dispose();
        using var actual = randn(8);
        Assert.True(Same(expected, actual), "loading the VAE moved the global generator");
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

    [Fact]
    public void LoadsTheSameWeightsFromSafetensorsAndReportsMissingFiles()
    {
        var dir = Directory.CreateTempSubdirectory("nextstep-vae-").FullName;
        try
        {
            Assert.Contains("config.json: file not found", Assert.Throws<NextStepException>(() => AutoencoderKL.Load(dir)).Message);
            System.IO.File.Copy(Fixtures.Path("tiny", "model", "vae", "config.json"), System.IO.Path.Combine(dir, "config.json"));
            Assert.Contains("no checkpoint.pt or checkpoint.safetensors", Assert.Throws<NextStepException>(() => AutoencoderKL.Load(dir)).Message);
            using (var ck = TorchZipCheckpoint.Load(Fixtures.Path("tiny", "model", "vae", "checkpoint.pt")))
                SafeTensorsWriter.Save(System.IO.Path.Combine(dir, "checkpoint.safetensors"), ck.Tensors);
            using var vae = AutoencoderKL.Load(dir);
            using var z = G("vae.decode.z");
            using var expected = G("vae.decode.out");
            using var actual = vae.Decode(z);
            Close(expected, actual, "vae.decode.out (safetensors weights)");
        }
        finally { Directory.Delete(dir, true); }
        Assert.Contains("VAE folder not found", Assert.Throws<NextStepException>(() => AutoencoderKL.Load(dir)).Message);
    }

    [Fact]
    public void AcceptsDiffusersKeyNamesWithTheReversedUpIndex()
    {
        Assert.Equal("decoder.up.3.block.2.nin_shortcut.weight", VaeKeys.FromDiffusers("decoder.up_blocks.0.resnets.2.conv_shortcut.weight", 4));
        Assert.Equal("decoder.up.1.upsample.conv.bias", VaeKeys.FromDiffusers("decoder.up_blocks.2.upsamplers.0.conv.bias", 4));
        Assert.Equal("encoder.down.1.downsample.conv.weight", VaeKeys.FromDiffusers("encoder.down_blocks.1.downsamplers.0.conv.weight", 4));
        Assert.Equal("encoder.mid.attn_1.proj_out.weight", VaeKeys.FromDiffusers("encoder.mid_block.attentions.0.to_out.0.weight", 4));
        Assert.Equal("decoder.mid.block_2.norm1.bias", VaeKeys.FromDiffusers("decoder.mid_block.resnets.1.norm1.bias", 4));
        Assert.Equal("decoder.norm_out.weight", VaeKeys.FromDiffusers("decoder.conv_norm_out.weight", 4));

        using var ck = TorchZipCheckpoint.Load(Fixtures.Path("tiny", "model", "vae", "checkpoint.pt"));
        int levels = Vae.Config.ChMult.Length;
        var views = new List<Tensor>();
        var diffusers = new Dictionary<string, Tensor>();
        foreach (var (key, t) in ck.Tensors)
        {
            bool attnProjection = key.Contains(".attn_1.") && t.dim() == 4;
            var value = attnProjection ? t.flatten(1) : t;
            if (attnProjection) views.Add(value);
            diffusers[ToDiffusers(key, levels)] = value;
        }
        Assert.DoesNotContain(diffusers.Keys, k => k.Contains(".up.") || k.Contains(".down.") || k.Contains(".mid."));
        try
        {
            using var vae = AutoencoderKL.FromStateDict(Vae.Config, diffusers, "diffusers.safetensors");
            Assert.Empty(vae.IgnoredKeys);
            using var z = G("vae.decode.z");
            using var expected = G("vae.decode.out");
            using var actual = vae.Decode(z);
            Close(expected, actual, "vae.decode.out (diffusers names)");
        }
        finally { foreach (var v in views) v.Dispose(); }
    }

    /// <summary>The diffusers name of an LDM key, written out independently of the library's mapping.</summary>
    private static string ToDiffusers(string key, int levels)
    {
        key = System.Text.RegularExpressions.Regex.Replace(key, @"^encoder\.down\.(\d+)\.block\.", "encoder.down_blocks.$1.resnets.");
        key = System.Text.RegularExpressions.Regex.Replace(key, @"^encoder\.down\.(\d+)\.downsample\.", "encoder.down_blocks.$1.downsamplers.0.");
        key = System.Text.RegularExpressions.Regex.Replace(key, @"^decoder\.up\.(\d+)\.block\.", m => $"decoder.up_blocks.{levels - 1 - int.Parse(m.Groups[1].Value)}.resnets.");
        key = System.Text.RegularExpressions.Regex.Replace(key, @"^decoder\.up\.(\d+)\.upsample\.", m => $"decoder.up_blocks.{levels - 1 - int.Parse(m.Groups[1].Value)}.upsamplers.0.");
        return key.Replace(".mid.block_1.", ".mid_block.resnets.0.").Replace(".mid.block_2.", ".mid_block.resnets.1.")
            .Replace(".mid.attn_1.norm.", ".mid_block.attentions.0.group_norm.").Replace(".mid.attn_1.q.", ".mid_block.attentions.0.to_q.")
            .Replace(".mid.attn_1.k.", ".mid_block.attentions.0.to_k.").Replace(".mid.attn_1.v.", ".mid_block.attentions.0.to_v.")
            .Replace(".mid.attn_1.proj_out.", ".mid_block.attentions.0.to_out.0.")
            .Replace(".nin_shortcut.", ".conv_shortcut.").Replace(".norm_out.", ".conv_norm_out.");
    }

    /// <summary>uint8 images: ≥ 99.9 % of values equal and none off by more than 1.</summary>
    private void AssertMostlyEqual(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (expected.to_type(ScalarType.Int32) - actual.to_type(ScalarType.Int32)).abs();
        long differing = diff.count_nonzero().item<long>();
        int worst = diff.max().item<int>();
        log.WriteLine($"uint8: {differing} of {diff.numel()} values differ, worst by {worst}");
        Assert.True(worst <= 1, $"a uint8 value is off by {worst}");
        Assert.True(differing <= diff.numel() / 1000, $"{differing} of {diff.numel()} uint8 values differ");
    }
}
