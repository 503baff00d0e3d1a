using NextStep.Config;
using NextStep.Loading;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Short seeded mutation passes over every loader: a mutant must load or be refused with a clear
/// <see cref="NextStepException"/> — never another exception, a hang or a huge allocation.
/// </summary>
public class LoaderMutationTests
{
    private static string TempFile(string name) => Path.Combine(Directory.CreateTempSubdirectory("mut").FullName, name);

    [Fact]
    public void SafetensorsMutantsLoadOrAreRefused()
    {
        var path = TempFile("seed.safetensors");
        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor>
        {
            ["w"] = torch.randn(4, 8), ["b"] = torch.zeros(8, dtype: ScalarType.BFloat16), ["i"] = torch.arange(3),
        }, new Dictionary<string, string> { ["format"] = "pt" });
        var seed = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(seed, 0);
        var (ok, refused) = Mutator.Run(seed, 2000, seed: 1, target: bytes =>
        {
            File.WriteAllBytes(path, bytes);
            using var f = SafeTensorsFile.Open(path);
            foreach (var name in f.Tensors.Keys) f.Load(name, ScalarType.Float32).Dispose();
        }, focus: [(0, headerEnd)]);
        Assert.True(refused > 1300, $"only {refused} of 2000 header mutants were refused");
        Assert.True(ok > 0, "no mutant loaded: the mutator is too destructive to test acceptance");
    }

    [Fact]
    public void ConfigMutantsLoadOrAreRefused()
    {
        var path = TempFile("config.json");
        var seed = File.ReadAllBytes(Fixtures.Path("tiny", "model", "config.json"));
        var (ok, refused) = Mutator.Run(seed, 2000, seed: 2, target: bytes =>
        {
            File.WriteAllBytes(path, bytes);
            NextStepConfig.Load(path);
        });
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }

    [Fact]
    public void VaeConfigMutantsLoadOrAreRefused()
    {
        var path = TempFile("config.json");
        var seed = File.ReadAllBytes(Fixtures.Path("tiny", "model", "vae", "config.json"));
        var (ok, refused) = Mutator.Run(seed, 1000, seed: 3, target: bytes =>
        {
            File.WriteAllBytes(path, bytes);
            VaeConfig.Load(path);
        });
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }
}
