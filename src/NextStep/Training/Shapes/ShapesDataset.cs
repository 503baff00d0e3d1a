using System.Text.Json;
using System.Text.Json.Nodes;

namespace NextStep.Training.Shapes;

/// <summary>
/// The Shapes training data: scene <c>i</c> of a data set with seed <c>s</c> is <see cref="Scene"/>(s, i, split),
/// so a data set can be streamed, sharded or exported and always holds the same scenes.
/// </summary>
public static class ShapesDataset
{
    public const string CaptionsFile = "captions.jsonl";

    /// <summary>Scene <paramref name="index"/> of the data set with this seed, split and category mix (null: uniform).</summary>
    public static ShapesScene Scene(int seed, long index, ShapesSplit split = ShapesSplit.Train, ShapesMix? mix = null)
        => ShapesSampler.Sample(SceneSeed(seed, index), split, mix);

    public static IEnumerable<ShapesScene> Scenes(int seed, long count, ShapesSplit split = ShapesSplit.Train)
    {
        for (long i = 0; i < count; i++) yield return Scene(seed, i, split);
    }

    /// <summary>
    /// Writes <paramref name="count"/> scenes to <paramref name="folder"/>: NNNNNN.png, NNNNNN.txt (the caption)
    /// and captions.jsonl (one line per image: "file", "caption", "spec", "background", "objects").
    /// </summary>
    public static void Export(string folder, int count, int seed, int size = ShapesRenderer.DefaultSize, ShapesSplit split = ShapesSplit.Train, Action<int>? progress = null)
    {
        if (count < 1) throw new NextStepException($"data set size {count} is invalid (expected at least 1 image)");
        Directory.CreateDirectory(folder);
        using var captions = new StreamWriter(Path.Combine(folder, CaptionsFile));
        for (int i = 0; i < count; i++)
        {
            var scene = Scene(seed, i, split);
            string name = i.ToString("D6");
            ShapesImages.SavePng(ShapesRenderer.Render(scene, size, size), Path.Combine(folder, name + ".png"));
            File.WriteAllText(Path.Combine(folder, name + ".txt"), scene.Caption);
            var line = new JsonObject { ["file"] = name + ".png" };
            foreach (var kv in JsonSerializer.SerializeToNode(scene, ShapesJson.Options)!.AsObject().ToList())
                line[kv.Key] = kv.Value?.DeepClone();
            captions.WriteLine(line.ToJsonString());
            progress?.Invoke(i + 1);
        }
    }

    /// <summary>Reads the scenes of an exported folder back, with their image file names.</summary>
    public static IReadOnlyList<(string File, ShapesScene Scene)> Read(string folder)
    {
        var path = Path.Combine(folder, CaptionsFile);
        if (!File.Exists(path)) throw new NextStepException($"{path}: not found (expected a Shapes data set folder)");
        var result = new List<(string, ShapesScene)>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var node = JsonNode.Parse(line)!.AsObject();
                var file = node["file"]?.GetValue<string>() ?? throw new NextStepException($"{path}:{lineNo}: missing \"file\"");
                var scene = node.Deserialize<ShapesScene>(ShapesJson.Options) ?? throw new NextStepException($"{path}:{lineNo}: expected a scene object");
                result.Add((file, scene));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                throw new NextStepException($"{path}:{lineNo}: not a valid Shapes scene line ({e.Message})");
            }
        }
        return result;
    }

    /// <summary>A well-mixed 31-bit seed for one scene (SplitMix64 finaliser of seed and index).</summary>
    public static int SceneSeed(int seed, long index)
    {
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
