using NextStep.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Tests.Support;

/// <summary>
/// Locates the shared golden fixtures (<c>../shared/fixtures</c> beside the checkout; override with
/// NEXTSTEP_FIXTURES) and reads golden tensors.
/// </summary>
public static class Fixtures
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);
    public static string Root => RootLazy.Value;
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
    public static string TinyModel => Path("tiny", "model");
    /// <summary>
    /// Copies the tiny checkpoint's top-level files (not its <c>vae/</c>) into <paramref name="dir"/>, with
    /// <paramref name="config"/> (when given) editing its config.json; returns <paramref name="dir"/>.
    /// </summary>
    public static string CopyTinyModelFiles(string dir, Action<System.Text.Json.Nodes.JsonObject>? config = null)
    {
        foreach (var file in Directory.GetFiles(TinyModel)) File.Copy(file, System.IO.Path.Combine(dir, System.IO.Path.GetFileName(file)));
        if (config == null) return dir;
        var configPath = System.IO.Path.Combine(dir, "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config(json);
        File.WriteAllText(configPath, json.ToJsonString());
        return dir;
    }

    /// <summary>The committed <c>models/default</c> folder of this checkout.</summary>
    public static string DefaultModel => global::NextStep.Pipeline.DefaultModel.PathOrNull() ?? throw new Xunit.Sdk.XunitException("models/default was not found above the test binary");

    private static string FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("NEXTSTEP_FIXTURES");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("shared/fixtures not found beside the checkout (set NEXTSTEP_FIXTURES)");
    }

    private static readonly Dictionary<string, SafeTensorsFile> Open = new();

    /// <summary>A golden file, opened once per test run.</summary>
    public static SafeTensorsFile Golden(params string[] relative)
    {
        var p = Path(relative);
        lock (Open)
        {
            if (!Open.TryGetValue(p, out var f)) Open[p] = f = SafeTensorsFile.Open(p);
            return f;
        }
    }

    public static Tensor Tensor(string file, string key) => Golden(file.Split('/')).Load(key);
}

public static class TensorAssert
{
    /// <summary>max |a − b| ≤ atol + rtol·max|expected|; reports the worst element.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol = 1e-4, double rtol = 0, string what = "")
    {
        Xunit.Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to_type(ScalarType.Float64);
        using var a = actual.to_type(ScalarType.Float64);
        using var diff = (e - a).abs();
        double max = diff.numel() == 0 ? 0 : diff.max().item<double>();
        double scale = e.numel() == 0 ? 0 : e.abs().max().item<double>();
        double tol = atol + rtol * scale;
        if (!(max <= tol))
            throw new Xunit.Sdk.XunitException($"{what}: max abs diff {max:E3} > tolerance {tol:E3} (atol {atol}, rtol {rtol}, max|expected| {scale:G4})");
    }
}
