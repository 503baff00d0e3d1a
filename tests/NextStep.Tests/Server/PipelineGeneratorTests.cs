using NextStep.Imaging;
using NextStep.Pipeline;
using NextStep.Server.Generation;
using NextStep.Tests.Pipeline;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Server;

/// <summary>The server's adapter to the real pipeline, on the tiny checkpoint, against the golden pictures.</summary>
[Collection(GlobalRngCollection.Name)]
public sealed class PipelineGeneratorTests
{
    private static string Golden(string file) => Fixtures.Path("tiny", "golden", file);

    [Fact]
    public async Task Edit_job_through_the_adapter_gives_the_golden_picture_and_reports_every_token()
    {
        var generator = new PipelineImageGenerator(Fixtures.TinyModel, PipelineVariant.GitHub2025);
        var spec = new GenerationJobSpec
        {
            Prompt = "Add a pirate hat to the dog's head.", NegativePrompt = "Copy original image.", Width = 64, Height = 64,
            Cfg = 7.5, CfgImg = 2.0, Steps = 4, Shift = 3.2, UseNorm = true, Seed = 42, Preset = "edit",
            InputImage = File.ReadAllBytes(Golden("photo64.png")),
        };
        var reports = new List<(int Done, int Total)>();
        var images = await generator.GenerateAsync(spec, new Collect(reports), CancellationToken.None);

        var image = Assert.Single(images);
        Assert.Equal((64, 64), (image.Width, image.Height));
        PipelineGoldenTests.AssertImage("edit via server adapter", ImageIO.Load(Golden("edit_0.png")).Rgb, ImageIO.Decode(image.Png, "result"));
        Assert.Equal(Enumerable.Range(1, 16).Select(t => (t, 16)), reports);
        Assert.Equal("model", generator.ModelName);
    }

    [Fact]
    public void A_folder_without_config_is_refused_with_its_name()
    {
        var e = Assert.Throws<NextStepException>(() => new PipelineImageGenerator(Fixtures.Path("tiny", "golden")));
        Assert.Contains("config.json", e.Message);
    }

    private sealed class Collect(List<(int, int)> into) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) { lock (into) into.Add(value); }
    }
}
