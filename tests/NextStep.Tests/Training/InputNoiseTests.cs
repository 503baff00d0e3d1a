using System.Text.Json.Nodes;
using NextStep.Config;
using NextStep.Model;
using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary>The official optional input noise (<c>noise_strength</c>): noised backbone inputs, clean flow-matching targets.</summary>
public sealed class InputNoiseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-noise-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A copy of the tiny checkpoint whose config.json has <c>noise_strength</c> set to <paramref name="value"/>.</summary>
    private string TinyWithNoise(JsonNode value) => Fixtures.CopyTinyModelFiles(_dir, config => config["noise_strength"] = value);

    [Fact]
    public void NoiseIsTheSeededTorchStreamTimesARampOverLatentPixels()
    {
        using var scope = NewDisposeScope();
        // Four 16×8×8 latents drawn in one call: 4,096 normals, recorded by PyTorch as randn_s42_n4096.
        var clean = Enumerable.Range(0, 4).Select(i => full(new long[] { 16, 8, 8 }, 0.25f * i)).ToList();
        var noisy = Losses.InputNoise(clean, 0.6, new Generator(42));
        var stream = Fixtures.Tensor("rng/torch_cpu.safetensors", "randn_s42_n4096").view(4, 16, 8, 8);
        for (int i = 0; i < 4; i++)
        {
            var added = noisy[i] - clean[i];
            for (int p = 0; p < 64; p++)
            {
                double ramp = 0.6 * p / 63;   // linspace(0, s, h·w) in raster order over the latent pixels
                var expected = stream[i, .., p / 8, p % 8] * ramp;
                TensorAssert.Close(expected, added[.., p / 8, p % 8], atol: 1e-6, what: $"image {i} pixel {p}");
            }
        }
    }

    [Fact]
    public void ZeroStrengthLeavesTheLatentsAlone()
    {
        var clean = new List<Tensor> { ones(16, 8, 8) };
        Assert.Same(clean, Losses.InputNoise(clean, 0, new Generator(1)));
    }

    [Fact]
    public void TheBackboneReadsNoisedLatentsWhileTheTargetsStayClean()
    {
        using var scope = NewDisposeScope();
        using var model = NextStepModel.Load(TinyWithNoise(0.5), ScalarType.Float32, rope: RopeInvFreq.Bf16Rounded);
        Assert.Equal(0.5, model.Config.NoiseStrength);
        Objective.EnableTraining(model);
        const string c = "t2i";
        var loss = Objective.Compute(model, ObjectiveTests.GoldenBatch(c), out var hidden, ObjectiveTests.GoldenDraws(c), new Generator(3));

        // Targets: the official clean latent tokens (tiled ×4), exactly.
        var target = TrainingGoldens.Tensor($"{c}.fm.target");
        TensorAssert.Close(target.repeat(1, 4, 1).reshape(-1, target.shape[2]), loss.FlowMatching.Target, atol: 0, what: "fm.target");
        // Hidden states: the official ones up to and including the first image token's input (pixel 0 of the ramp
        // is unnoised, but that token also holds pixels 1, 8, 9), different from there on.
        var golden = TrainingGoldens.Tensor($"{c}.hidden");
        var row = TrainingGoldens.Tensor($"{c}.input_ids")[0].to_type(ScalarType.Int64).data<long>().ToArray();
        int firstImage = Array.IndexOf(row, (long)model.Config.ImagePlaceholderId);
        Assert.True(firstImage > 0, "the golden batch's first row holds an image");
        TensorAssert.Close(golden[0, ..firstImage], hidden[0, ..firstImage], atol: 0, rtol: 1e-5, what: "text prefix");
        var after = (golden[0, firstImage..] - hidden[0, firstImage..]).abs().max().item<float>();
        Assert.True(after > 1e-3, $"hidden states after the first image token should change with noised inputs (max diff {after})");
        Assert.NotEqual(TrainingGoldens.Scalar($"{c}.image_loss"), loss.ImageLoss.item<float>(), 3);
    }

    [Theory]
    [InlineData("-0.1")]
    [InlineData("\"strong\"")]
    public void ABadNoiseStrengthIsNamed(string value)
    {
        var dir = TinyWithNoise(JsonNode.Parse(value)!);
        var error = Assert.Throws<NextStepException>(() => NextStepConfig.Load(Path.Combine(dir, "config.json"))).Message;
        Assert.Contains("noise_strength", error);
        Assert.Contains("config.json", error);
    }
}
