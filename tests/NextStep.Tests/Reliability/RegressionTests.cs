using NextStep.Config;
using NextStep.Loading;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Inputs that once crashed a loader with an exception other than <see cref="NextStepException"/> (found by the
/// mutation passes, the fuzzers, or by reading the code): each must now be refused with a message naming the problem.
/// </summary>
public sealed class RegressionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-regress-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    internal static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "Reliability", "Data", name);

    /// <summary>Copies a Data file into a fresh folder under the name the loader expects.</summary>
    private string Folder() => Directory.CreateDirectory(Path.Combine(_dir, Guid.NewGuid().ToString("N"))).FullName;

    private string Place(string data, string asName)
    {
        var folder = Folder();
        File.Copy(Data(data), Path.Combine(folder, asName));
        return folder;
    }

    [Theory]
    [InlineData("index-invalid-utf8.json", "not valid UTF-8")]
    [InlineData("index-lone-surrogate.json", "unpaired surrogate")]
    public void ShardIndex(string data, string expected)
    {
        var folder = Place(data, "model.safetensors.index.json");
        var e = Assert.Throws<NextStepException>(() => SafeTensorsCheckpoint.Open(folder).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ConfigWithALoneSurrogateEscape()
    {
        var folder = Place("config-lone-surrogate.json", "config.json");
        var e = Assert.Throws<NextStepException>(() => NextStepConfig.Load(Path.Combine(folder, "config.json")));
        Assert.Contains("unpaired surrogate", e.Message);
    }

    [Fact]
    public void TokenizerConfigWithALoneSurrogateEscape()
    {
        var folder = Place("tokenizer_config-lone-surrogate.json", "tokenizer_config.json");
        File.Copy(Path.Combine(Fixtures.TinyModel, "tokenizer.json"), Path.Combine(folder, "tokenizer.json"));
        var e = Assert.Throws<NextStepException>(() => Qwen2Tokenizer.Load(folder));
        Assert.Contains("unpaired surrogate", e.Message);
    }

    [Fact]
    public void TokenizerVocabularyWithALoneSurrogateEscape()
    {
        var folder = Folder();
        File.Copy(Path.Combine(Fixtures.TinyModel, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"));
        var json = File.ReadAllText(Path.Combine(Fixtures.TinyModel, "tokenizer.json"));
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.Replace("\"vocab\": {", "\"vocab\": {\"\\ud800\": 5000, "));
        var e = Assert.Throws<NextStepException>(() => Qwen2Tokenizer.Load(folder));
        Assert.Contains("unpaired surrogate", e.Message);
    }

    [Fact]
    public void SafetensorsHeaderWithALoneSurrogateEscape()
    {
        var e = Assert.Throws<NextStepException>(() => SafeTensorsFile.Open(Data("header-lone-surrogate.safetensors")).Dispose());
        Assert.Contains("unpaired surrogate", e.Message);
    }
}
