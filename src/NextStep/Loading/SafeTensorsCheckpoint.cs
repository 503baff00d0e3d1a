using System.Text.Json;
using NextStep.Config;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>
/// The weights of a Hugging Face model folder: one <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c> (whose shard names must stay inside the folder). Tensors are looked up by
/// their official key names; every shard is validated on open.
/// </summary>
public sealed class SafeTensorsCheckpoint : IDisposable
{
    private readonly Dictionary<string, SafeTensorsFile> _byTensor = new(StringComparer.Ordinal);
    private readonly List<SafeTensorsFile> _files = new();

    public string Folder { get; }
    public IEnumerable<string> Names => _byTensor.Keys;
    public TensorInfo Info(string name) => File(name).Tensors[name];
    public bool Contains(string name) => _byTensor.ContainsKey(name);

    private SafeTensorsCheckpoint(string folder) { Folder = folder; }

    public static SafeTensorsCheckpoint Open(string folder, string stem = "model", SafeTensorsLimits? limits = null)
    {
        var ck = new SafeTensorsCheckpoint(folder);
        try
        {
            string single = Path.Combine(folder, stem + ".safetensors");
            string index = Path.Combine(folder, stem + ".safetensors.index.json");
            if (System.IO.File.Exists(index)) ck.OpenIndex(index, limits);
            else if (System.IO.File.Exists(single)) ck.Add(SafeTensorsFile.Open(single, limits), null);
            else throw new NextStepException($"{folder}: no {stem}.safetensors or {stem}.safetensors.index.json found (is this a NextStep model folder?)");
            return ck;
        }
        catch { ck.Dispose(); throw; }
    }

    private void OpenIndex(string index, SafeTensorsLimits? limits)
    {
        // JsonConfig checks the size, UTF-8 and JSON syntax (a string with invalid UTF-8 would otherwise fail when read).
        if (JsonConfig.Load(index).Raw("weight_map") is not { ValueKind: JsonValueKind.Object } map)
            throw new NextStepException($"{index}: expected an object with a \"weight_map\" object");
        var wanted = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string root = Path.GetFullPath(Folder);
        foreach (var p in map.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw new NextStepException($"{index}: weight_map[\"{p.Name}\"] must be a file name");
            string shard = p.Value.GetString()!;
            string full = Path.GetFullPath(Path.Combine(root, shard));
            if (shard.Length == 0 || Path.IsPathRooted(shard) || !full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new NextStepException($"{index}: shard name \"{shard}\" for \"{p.Name}\" leaves the model folder");
            if (!wanted.TryGetValue(full, out var list)) wanted[full] = list = new();
            list.Add(p.Name);
        }
        foreach (var (shard, names) in wanted)
        {
            if (!System.IO.File.Exists(shard)) throw new NextStepException($"{index}: shard {Path.GetFileName(shard)} is missing (needed for \"{names[0]}\")");
            var f = SafeTensorsFile.Open(shard, limits);
            Add(f, names);
        }
    }

    private void Add(SafeTensorsFile f, List<string>? expected)
    {
        _files.Add(f);
        if (expected != null)
            foreach (var n in expected)
                if (!f.Tensors.ContainsKey(n)) throw new NextStepException($"{f.Path}: the index lists \"{n}\" in this shard but the shard has no such tensor");
        foreach (var n in f.Tensors.Keys)
            if (!_byTensor.TryAdd(n, f)) throw new NextStepException($"{f.Path}: tensor \"{n}\" also appears in {_byTensor[n].Path}");
    }

    private SafeTensorsFile File(string name) => _byTensor.TryGetValue(name, out var f) ? f : throw new NextStepException($"{Folder}: checkpoint has no tensor \"{name}\"");

    /// <summary>Loads one tensor by name, cast to <paramref name="dtype"/> when given (tensor by tensor: never the whole model in f32).</summary>
    public Tensor Load(string name, ScalarType? dtype = null) => File(name).Load(name, dtype);

    /// <summary>Reads one tensor into an existing tensor of its shape, cast to the target's dtype (<see cref="SafeTensorsFile.ReadInto"/>).</summary>
    public void ReadInto(string name, Tensor target) => File(name).ReadInto(name, target);

    public void Dispose() { foreach (var f in _files) f.Dispose(); }
}
