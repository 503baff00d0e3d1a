using NextStep.Imaging;
using NextStep.Tests.Support;
using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Pipeline;

[Xunit.Collection(NextStep.Tests.Support.GlobalRngCollection.Name)]
public class ShapesAdapterTests
{
    [Fact]
    public void GeneratesWithTheCheckpointDefaultSampler()
    {
        // The tiny checkpoint's default is the hf sampler: these settings are variants/hf's t2i_plain case.
        using var pipeline = NextStep.Pipeline.NextStepPipeline.Load(Fixtures.TinyModel);
        var generate = ShapesPipelineAdapter.Create(pipeline, new ShapesGenerationSettings(Size: 64, Steps: 4, Cfg: 1.0));
        var image = generate("a red circle on a white background", 42);
        var golden = ImageIO.Load(Fixtures.Path("variants", "hf", "t2i_plain_0.png"));
        PipelineGoldenTests.AssertImage("shapes adapter vs hf t2i_plain", golden.Rgb, image);
    }
}
