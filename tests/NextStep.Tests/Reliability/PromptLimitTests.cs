using NextStep.Pipeline;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>Prompt length limits: characters before tokenizing, and tokens against the model's context.</summary>
public class PromptLimitTests
{
    private static void Refused(Action act, string expected) => Assert.Contains(expected, Assert.Throws<NextStepException>(act).Message);

    [Fact]
    public void OverlongTextIsRefusedBeforeTokenizing()
    {
        var huge = new string('a', GenerationRequest.MaxPromptChars + 1);
        Refused(() => new GenerationRequest { Captions = ["ok", huge] }.Validate(16, PipelineVariant.HF), "caption 1: 32769 characters exceed the limit of 32768");
        Refused(() => new GenerationRequest { Captions = ["ok"], NegativePrompt = huge }.Validate(16, PipelineVariant.HF), "negative_prompt: 32769 characters");
        Refused(() => new GenerationRequest { Captions = ["ok"], PositivePrompt = huge }.Validate(16, PipelineVariant.HF), "positive_prompt: 32769 characters");
        new GenerationRequest { Captions = [huge[1..]] }.Validate(16, PipelineVariant.HF);
    }

    [Fact]
    public void PromptAndImageTokensMustFitTheContext()
    {
        // The tiny model has 1024 positions; ~1100 words are more prompt tokens than that.
        using var pipeline = NextStepPipeline.Load(Fixtures.TinyModel);
        var words = string.Join(" ", Enumerable.Repeat("cat", 1100));
        Refused(() => pipeline.Generate(new GenerationRequest { Captions = [words], Height = 64, Width = 64, NumSamplingSteps = 2 }),
            "image tokens (64x64) exceeds the model's 1024 positions (max_position_embeddings)");
    }
}
