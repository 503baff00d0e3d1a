using NextStep.Training.Shapes;
using Xunit;

namespace NextStep.Tests.Shapes;

/// <summary>Captions read back into specs (<see cref="ShapesCaptionParser"/>), against the specs the captions were written from.</summary>
public class ShapesCaptionParserTests
{
    [Fact]
    public void EveryWrittenCaptionReadsBackAsItsSpec()
    {
        // 3,000 sampled specs of every category, each written in a random template: objects, relation and background
        // must come back exactly; the category too, except that "one …" / "a single …" for a single object reads as
        // an exact count of one (the counting category), which is what those words say.
        var rng = new Random(5);
        int numberWorded = 0;
        for (int i = 0; i < 3000; i++)
        {
            var category = ShapesVocabulary.Categories[i % ShapesVocabulary.Categories.Length];
            var spec = ShapesSampler.SampleSpec(rng, category);
            var caption = ShapesCaptions.Write(rng, spec);
            var parsed = ShapesCaptionParser.Parse(caption);
            Assert.True(parsed is not null, $"\"{caption}\" was not read");
            Assert.Equal(spec.Objects, parsed.Objects);
            Assert.Equal(spec.Relation, parsed.Relation);
            Assert.Equal(spec.Background, parsed.Background);
            bool saysOne = caption.Contains("one ") || caption.Contains("single ");
            if (parsed.Category != spec.Category)
            {
                Assert.True(saysOne && spec.Category is ShapesCategory.SingleObject or ShapesCategory.Colors && parsed.Category == ShapesCategory.Counting,
                    $"\"{caption}\": category {parsed.Category}, written as {spec.Category}");
                numberWorded++;
            }
        }
        Assert.InRange(numberWorded, 50, 600);
    }

    [Fact]
    public void EvalPromptsReadBackAsTheirSpecs()
    {
        foreach (bool heldOut in new[] { false, true })
            foreach (var prompt in ShapesEval.Prompts(heldOut))
            {
                var parsed = ShapesCaptionParser.Parse(prompt.Caption);
                Assert.True(parsed is not null, $"\"{prompt.Caption}\" was not read");
                Assert.Equal(prompt.Spec.Objects, parsed.Objects);
                Assert.Equal(prompt.Spec.Relation, parsed.Relation);
                Assert.Equal(prompt.Spec.Background, parsed.Background);
            }
    }

    [Theory]
    [InlineData("A red circle above a blue square.", ShapesCategory.Position, "circle:red:1,square:blue:1", ShapeRelation.Above, null)]
    [InlineData("a photo of 3 green stars on a grey background", ShapesCategory.Counting, "star:green:3", null, ShapeColor.Gray)]
    [InlineData("exactly two crosses", ShapesCategory.Counting, "cross::2", null, null)]
    [InlineData("a yellow triangle at the bottom left", ShapesCategory.Position, "triangle:yellow:1", ShapeRelation.BottomLeft, null)]
    [InlineData("both a circle and a star, black background", ShapesCategory.TwoObjects, "circle::1,star::1", null, ShapeColor.Black)]
    [InlineData("an orange square together with a cyan cross", ShapesCategory.ColorAttr, "square:orange:1,cross:cyan:1", null, null)]
    public void ReadsHandWrittenCaptions(string caption, ShapesCategory category, string objects, ShapeRelation? relation, ShapeColor? background)
    {
        var parsed = ShapesCaptionParser.Parse(caption);
        Assert.NotNull(parsed);
        Assert.Equal(category, parsed.Category);
        Assert.Equal(objects, string.Join(",", parsed.Objects.Select(o => $"{ShapesVocabulary.Name(o.Shape)}:{(o.Color is { } c ? ShapesVocabulary.Name(c) : "")}:{o.Count}")));
        Assert.Equal(relation, parsed.Relation);
        Assert.Equal(background, parsed.Background);
    }

    [Theory]
    [InlineData("a cat on a mat")]
    [InlineData("a red circle on a purple background")]   // not a background colour
    [InlineData("a gray circle")]                         // gray is a background colour only
    [InlineData("five red circles")]                      // counts are 1 to 4
    [InlineData("three circles and two squares")]         // more than four objects
    [InlineData("a white star on a white background")]   // invisible
    [InlineData("")]
    public void OutsideTheShapesWorldReadsAsNothing(string caption) => Assert.Null(ShapesCaptionParser.Parse(caption));
}
