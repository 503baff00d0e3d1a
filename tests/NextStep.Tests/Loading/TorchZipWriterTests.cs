using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using NextStep.Config;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Tests.Support;
using NextStep.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NextStep.Tests.Loading;

/// <summary>
/// <see cref="TorchZipWriter"/> against the torch-made tiny VAE checkpoint: tensors, zip layout and pickle structure,
/// plus a parse by Python's own <c>pickle</c> when <c>python3</c> is on the PATH.
/// </summary>
[Collection(GlobalRngCollection.Name)] // the VAE test initialises weights from the global generator
public sealed class TorchZipWriterTests(ITestOutputHelper log) : IDisposable
{
    private static string FixturePath => Fixtures.Path("tiny", "model", "vae", "checkpoint.pt");
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-torchzip-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    /// <summary>The fixture's tensors in its state-dict order.</summary>
    private static (TorchZipCheckpoint Checkpoint, List<KeyValuePair<string, Tensor>> Items) Fixture()
    {
        Assert.True(System.IO.File.Exists(FixturePath), $"{FixturePath} is missing");
        var ck = TorchZipCheckpoint.Load(FixturePath);
        var order = PickleOf(FixturePath).Tensors.Select(t => t.Name);
        return (ck, order.Select(k => new KeyValuePair<string, Tensor>(k, ck.Tensors[k])).ToList());
    }

    /// <summary>Same dtype, shape and elements (elementwise equality; the tensors here hold no NaN).</summary>
    private static bool SameValues(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    [Fact]
    public void FixtureTensorsRoundTripExactly()
    {
        var (ck, items) = Fixture();
        using var _ = ck;
        Assert.Equal(176, items.Count);
        var path = File("checkpoint.pt");
        TorchZipWriter.Save(path, items);
        using var back = TorchZipCheckpoint.Load(path);
        Assert.Empty(back.SkippedKeys);
        Assert.False(back.WasNested);
        Assert.Equal(ck.Tensors.Keys.Order(StringComparer.Ordinal), back.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in ck.Tensors)
            Assert.True(SameValues(t, back.Tensors[name]), $"{name}: dtype, shape or values differ after the round trip");
        Assert.Equal(items.Select(kv => kv.Key), PickleOf(path).Tensors.Select(t => t.Name)); // state-dict order kept
        // Deterministic: the same tensors give the same bytes.
        TorchZipWriter.Save(File("again.pt"), items);
        Assert.Equal(System.IO.File.ReadAllBytes(path), System.IO.File.ReadAllBytes(File("again.pt")));
    }

    [Fact]
    public void LayoutAndPickleMatchTheTorchMadeFile()
    {
        var (ck, items) = Fixture();
        using var _ = ck;
        var path = File("checkpoint.pt");
        TorchZipWriter.Save(path, items);

        var torchEntries = ZipLayout(FixturePath);
        var ourEntries = ZipLayout(path);
        string torchRoot = torchEntries[0].Name.Split('/')[0];
        Assert.Equal("checkpoint", torchRoot);
        static IEnumerable<string> Relative(List<ZipEntryInfo> entries) => entries.Select(e => e.Name[(e.Name.IndexOf('/') + 1)..]);
        Assert.Equal(Relative(torchEntries), Relative(ourEntries)); // data.pkl, byteorder, data/<sorted keys>, version, .data/serialization_id
        Assert.All(ourEntries, e => Assert.StartsWith(TorchZipWriter.RootName + "/", e.Name));
        foreach (var e in torchEntries.Concat(ourEntries))
        {
            Assert.True(e.Method == 0, $"{e.Name}: compression method {e.Method}, expected 0 (stored)");
            Assert.Equal(e.Size, e.CompressedSize);
            Assert.True(e.DataOffset % 64 == 0, $"{e.Name}: data at offset {e.DataOffset}, not 64-byte aligned");
        }
        using (var torchZip = ZipFile.OpenRead(FixturePath))
        using (var ourZip = ZipFile.OpenRead(path))
        {
            string Read(ZipArchive z, string root, string rel) { using var r = new StreamReader(z.GetEntry($"{root}/{rel}")!.Open()); return r.ReadToEnd(); }
            Assert.Equal("3\n", Read(ourZip, "archive", "version"));
            Assert.Equal(Read(torchZip, torchRoot, "version"), Read(ourZip, "archive", "version"));
            Assert.Equal("little", Read(ourZip, "archive", "byteorder"));
            Assert.Matches("^[0-9]{40}$", Read(ourZip, "archive", ".data/serialization_id"));
            // The same tensors, the same storage keys: every storage holds the same bytes.
            foreach (var e in torchZip.Entries.Where(e => e.FullName.StartsWith($"{torchRoot}/data/")))
                Assert.True(Bytes(e).AsSpan().SequenceEqual(Bytes(ourZip.GetEntry("archive/" + e.FullName[(torchRoot.Length + 1)..])!)), $"{e.FullName} differs");
        }

        var torchPickle = PickleOf(FixturePath);
        var ourPickle = PickleOf(path);
        Assert.Equal(["collections.OrderedDict", "torch.FloatStorage", "torch._utils._rebuild_tensor_v2"], torchPickle.Globals.Order(StringComparer.Ordinal));
        Assert.Equal(torchPickle.Globals.Order(StringComparer.Ordinal), ourPickle.Globals.Order(StringComparer.Ordinal));
        Assert.True(ourPickle.RootIsOrderedDict);
        Assert.Equal(2, ourPickle.Protocol);
        Assert.Equal(torchPickle.Protocol, ourPickle.Protocol);
        // Same call for every tensor: storage type, key, location, numel, offset, size, stride, requires_grad, hooks.
        Assert.Equal(torchPickle.Tensors, ourPickle.Tensors);
        log.WriteLine($"data.pkl: torch {torchEntries[0].Size} bytes (with the state dict's _metadata), ours {ourEntries[0].Size}");
    }

    [Fact]
    public void PythonPickleReadsTheFile()
    {
        var python = FindOnPath("python3");
        if (python == null)
        {
            log.WriteLine("python3 is not on the PATH: the Python parse is skipped");
            return;
        }
        var (ck, items) = Fixture();
        using var _ = ck;
        var path = File("checkpoint.pt");
        TorchZipWriter.Save(path, items);
        var zip64 = File("zip64.pt");
        using var bf16 = arange(12, ScalarType.Float32).reshape(3, 4).to_type(ScalarType.BFloat16);
        using var scalar = tensor(7L);
        TorchZipWriter.Save(zip64, [new("w", bf16), new("n", scalar)], forceZip64: true);

        // The torch-made file as a control for the script, then ours.
        Assert.Equal(176, RunPython(python, FixturePath).GetProperty("tensors").GetArrayLength());
        var doc = RunPython(python, path);
        Assert.Equal("OrderedDict", doc.GetProperty("type").GetString());
        Assert.Equal("archive", doc.GetProperty("root").GetString());
        Assert.Equal("3\n", doc.GetProperty("version").GetString());
        Assert.Equal("little", doc.GetProperty("byteorder").GetString());
        Assert.All(doc.GetProperty("methods").EnumerateArray(), m => Assert.Equal(0, m.GetInt32()));
        var tensors = doc.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(items.Select(kv => kv.Key), tensors.Select(t => t[0].GetString()));
        for (int i = 0; i < items.Count; i++)
        {
            var t = tensors[i][1];
            Assert.Equal(items[i].Value.shape, t.GetProperty("size").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal("FloatStorage", t.GetProperty("storage").GetProperty("type").GetString());
            Assert.Equal(items[i].Value.numel() * 4, t.GetProperty("storage").GetProperty("bytes").GetInt64());
            Assert.False(t.GetProperty("requires_grad").GetBoolean());
            Assert.Equal("OrderedDict0", t.GetProperty("hooks").GetString());
        }

        var small = RunPython(python, zip64);
        var st = small.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(["w", "n"], st.Select(t => t[0].GetString()));
        Assert.Equal("BFloat16Storage", st[0][1].GetProperty("storage").GetProperty("type").GetString());
        Assert.Equal([3L, 4L], st[0][1].GetProperty("size").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal([4L, 1L], st[0][1].GetProperty("stride").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal("LongStorage", st[1][1].GetProperty("storage").GetProperty("type").GetString());
        Assert.Equal(0, st[1][1].GetProperty("size").GetArrayLength());
    }

    [Fact]
    public void EveryStoredDtypeAndOddShapeRoundTrips()
    {
        using var scope = NewDisposeScope();
        var source = arange(24, ScalarType.Float32).reshape(2, 3, 4) / 7;
        var items = new List<KeyValuePair<string, Tensor>>
        {
            new("bf16", source.to_type(ScalarType.BFloat16)),
            new("f16", source.to_type(ScalarType.Float16)),
            new("f32", source),
            new("f64", source.to_type(ScalarType.Float64)),
            new("i64", arange(-5, 5, ScalarType.Int64)),
            new("i32", arange(-5, 5, ScalarType.Int32)),
            new("i16", arange(-5, 5, ScalarType.Int16)),
            new("i8", arange(-5, 5, ScalarType.Int8)),
            new("u8", arange(0, 250, 25, ScalarType.Byte)),
            new("bool", tensor(new[] { true, false, true })),
            new("scalar", tensor(3.5f)),
            new("empty", zeros(0, 3)),
            new("transposed", source.transpose(0, 2)),          // non-contiguous: written contiguous
            new("slice", arange(100, ScalarType.Float32)[TensorIndex.Slice(10, 20)]), // a view into a larger storage
            new("grad", source.clone().requires_grad_(true)),
            new("naïve.key ✓", ones(2)),
        };
        var path = File("dtypes.pt");
        TorchZipWriter.Save(path, items);
        using var back = TorchZipCheckpoint.Load(path);
        Assert.Equal(items.Count, back.Tensors.Count);
        foreach (var (name, t) in items)
            Assert.True(SameValues(t.detach(), back.Tensors[name]), $"{name}: dtype, shape or values differ");
        var pickle = PickleOf(path);
        Assert.Equal(new long[] { 4, 3, 2 }, pickle.Tensors.Single(t => t.Name == "transposed").Size);
        Assert.Equal(new long[] { 6, 2, 1 }, pickle.Tensors.Single(t => t.Name == "transposed").Stride);
        Assert.Equal(new long[] { 3, 1 }, pickle.Tensors.Single(t => t.Name == "empty").Stride); // as libtorch: size 0 counts as 1
        Assert.Equal(10, pickle.Tensors.Single(t => t.Name == "slice").Numel);
        Assert.All(pickle.Tensors, t => Assert.False(t.RequiresGrad));

        // ZIP64 records (used past 4 GiB) read back by .NET's zip reader.
        var zip64 = File("zip64.pt");
        TorchZipWriter.Save(zip64, items, forceZip64: true);
        using var back64 = TorchZipCheckpoint.Load(zip64);
        foreach (var (name, t) in items) Assert.True(SameValues(t.detach(), back64.Tensors[name]), $"{name} (ZIP64)");
        Assert.All(ZipLayout(zip64), e => Assert.True(e.DataOffset % 64 == 0, $"{e.Name} not aligned"));
    }

    [Fact]
    public void BFloat16WeightsRoundTripBitForBit()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var items = Enumerable.Range(0, 4)
            .Select(i => new KeyValuePair<string, Tensor>($"layer.{i}.weight", (randn(new long[] { 16, 8 + i }, generator: g) * 1e3).to_type(ScalarType.BFloat16)))
            .ToList();
        var path = File("bf16.pt");
        TorchZipWriter.Save(path, items);
        using var back = TorchZipCheckpoint.Load(path);
        foreach (var (name, t) in items)
        {
            var r = back.Tensors[name];
            Assert.Equal(ScalarType.BFloat16, r.dtype);
            Assert.True(SameValues(t, r), $"{name}: bf16 values differ");
            Assert.True(SameValues(t.to_type(ScalarType.Float32), r.to_type(ScalarType.Float32)), $"{name}: bf16 values differ as float32"); // exact widening
        }
        Assert.All(PickleOf(path).Tensors, t => Assert.Equal("torch.BFloat16Storage", t.StorageType));
    }

    [Fact]
    public void ManyTensorsAreWrittenInPickleSizedBatches()
    {
        using var scope = NewDisposeScope();
        var items = Enumerable.Range(0, 2345).Select(i => new KeyValuePair<string, Tensor>($"t{i}", full(1, (float)i))).ToList();
        var path = File("many.pt");
        TorchZipWriter.Save(path, items);
        using var back = TorchZipCheckpoint.Load(path);
        Assert.Equal(2345, back.Tensors.Count);
        Assert.Equal(1234f, back.Tensors["t1234"].item<float>());
        Assert.Equal(items.Select(kv => kv.Key), PickleOf(path).Tensors.Select(t => t.Name));
    }

    [Fact]
    public void BadInputsNameTheTensorAndLeaveThePreviousFile()
    {
        using var scope = NewDisposeScope();
        var path = File("keep.pt");
        System.IO.File.WriteAllText(path, "previous");
        var complex = ones(2, ScalarType.ComplexFloat32);
        var e = Assert.Throws<NextStepException>(() => TorchZipWriter.Save(path, [new("ok", ones(2)), new("decoder.z", complex)]));
        Assert.Contains("\"decoder.z\"", e.Message);
        Assert.Contains("ComplexFloat", e.Message);
        e = Assert.Throws<NextStepException>(() => TorchZipWriter.Save(path, [new("w", ones(2)), new("w", ones(3))]));
        Assert.Contains("\"w\" appears twice", e.Message);
        Assert.Equal("previous", System.IO.File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir)); // no temporary files left

        var missingFolder = Path.Combine(_dir, "no", "such", "folder", "x.pt");
        e = Assert.Throws<NextStepException>(() => TorchZipWriter.Save(missingFolder, [new("w", ones(2))]));
        Assert.Contains("cannot write the weights", e.Message);

        TorchZipWriter.Save(path, [new("w", ones(2))]); // replaces the previous file
        using var ck = TorchZipCheckpoint.Load(path);
        Assert.Equal(["w"], ck.Tensors.Keys);
    }

    [Fact]
    public void VaeTrainerSavesCheckpointPtThatLoadsAndDecodesIdentically()
    {
        var config = new VaeConfig { Resolution = 16, Ch = 32, ChMult = [1, 2], NumResBlocks = 1, ZChannels = 4, EncoderNorm = true, Psz = 1, ScalingFactor = 0.5, ShiftFactor = 0.1 };
        manual_seed(11);
        using var vae = AutoencoderKL.Initialise(config);
        var folder = Path.Combine(_dir, "vae");
        Directory.CreateDirectory(folder);
        System.IO.File.WriteAllText(Path.Combine(folder, "checkpoint.safetensors"), "stale weights of an earlier save");
        VaeTrainer.Save(vae, config, folder);
        Assert.Equal(["checkpoint.pt", "config.json"], Directory.GetFiles(folder).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));

        using var loaded = AutoencoderKL.Load(folder);
        Assert.Empty(loaded.IgnoredKeys);
        Assert.Equal(config.ScalingFactor, loaded.Config.ScalingFactor);
        Assert.Equal(config.ShiftFactor, loaded.Config.ShiftFactor);
        Assert.Equal(vae.named_parameters().Select(p => p.name), PickleOf(Path.Combine(folder, "checkpoint.pt")).Tensors.Select(t => t.Name));
        foreach (var ((name, a), (_, b)) in vae.named_parameters().Zip(loaded.named_parameters()))
            Assert.True(SameValues(a.detach(), b.detach()), $"{name} differs after save/load");
        using var z = randn(2, 4, 4, 4, generator: new Generator(3));
        using var expected = vae.Decode(z);
        using var actual = loaded.Decode(z);
        Assert.True(SameValues(expected, actual), "decoding differs after save/load");
    }

    // ---- helpers ----

    private static byte[] Bytes(ZipArchiveEntry e)
    {
        using var s = e.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    private sealed record ZipEntryInfo(string Name, int Method, long CompressedSize, long Size, long DataOffset);

    /// <summary>The central directory (ZIP64 fields included) and, from each local header, where the entry's data starts.</summary>
    private static List<ZipEntryInfo> ZipLayout(string path)
    {
        var f = System.IO.File.ReadAllBytes(path);
        int eocd = f.Length - 22; // no archive comment
        Assert.Equal(0x06054b50u, BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(eocd)));
        long count = BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(eocd + 10));
        long cd = BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(eocd + 16));
        if (count == 0xFFFF || cd == 0xFFFFFFFF)
        {
            long record = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan(eocd - 20 + 8));
            count = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan((int)record + 32));
            cd = BinaryPrimitives.ReadInt64LittleEndian(f.AsSpan((int)record + 48));
        }
        var entries = new List<ZipEntryInfo>();
        int p = (int)cd;
        for (long i = 0; i < count; i++)
        {
            var h = f.AsSpan(p);
            Assert.Equal(0x02014b50u, BinaryPrimitives.ReadUInt32LittleEndian(h));
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]), size = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]), extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            string name = Encoding.UTF8.GetString(h.Slice(46, nameLength));
            for (var extra = h.Slice(46 + nameLength, extraLength); extra.Length >= 4;)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(extra), length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
                var body = extra.Slice(4, length);
                if (id == 1)
                {
                    if (size == 0xFFFFFFFF) { size = BinaryPrimitives.ReadInt64LittleEndian(body); body = body[8..]; }
                    if (compressed == 0xFFFFFFFF) { compressed = BinaryPrimitives.ReadInt64LittleEndian(body); body = body[8..]; }
                    if (offset == 0xFFFFFFFF) offset = BinaryPrimitives.ReadInt64LittleEndian(body);
                }
                extra = extra[(4 + length)..];
            }
            var local = f.AsSpan((int)offset);
            Assert.Equal(0x04034b50u, BinaryPrimitives.ReadUInt32LittleEndian(local));
            Assert.Equal(method, BinaryPrimitives.ReadUInt16LittleEndian(local[8..]));
            int localName = BinaryPrimitives.ReadUInt16LittleEndian(local[26..]), localExtra = BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
            Assert.Equal(name, Encoding.UTF8.GetString(local.Slice(30, localName)));
            entries.Add(new ZipEntryInfo(name, method, compressed, size, offset + 30 + localName + localExtra));
            p += 46 + nameLength + extraLength + commentLength;
        }
        return entries;
    }

    /// <summary>One <c>_rebuild_tensor_v2</c> call of a state dict, as the pickle spells it.</summary>
    private sealed record TensorCall(string Name, string StorageType, string Key, string Location, long Numel, long Offset, long[] Size, long[] Stride, bool RequiresGrad, int Hooks)
    {
        public bool Equals(TensorCall? o) => o is not null && (Name, StorageType, Key, Location, Numel, Offset, RequiresGrad, Hooks) == (o.Name, o.StorageType, o.Key, o.Location, o.Numel, o.Offset, o.RequiresGrad, o.Hooks)
            && Size.SequenceEqual(o.Size) && Stride.SequenceEqual(o.Stride);
        public override int GetHashCode() => HashCode.Combine(Name, Key, Numel);
        public override string ToString() => $"{Name}: {StorageType}[{Key}, {Location}, {Numel}] @{Offset} size [{string.Join(",", Size)}] stride [{string.Join(",", Stride)}] grad {RequiresGrad} hooks {Hooks}";
    }

    private sealed record PickleSummary(int Protocol, HashSet<string> Globals, bool RootIsOrderedDict, List<TensorCall> Tensors);

    /// <summary>Runs <c>data.pkl</c> through the project's pickle VM with a resolver that records what the pickle asks for.</summary>
    private static PickleSummary PickleOf(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1);
        var bytes = Bytes(entry);
        Assert.Equal(0x80, bytes[0]);
        var recorder = new Recorder();
        var root = new Unpickler(path, bytes, recorder).Load();
        var dict = Assert.IsType<PickleDict>(root);
        var tensors = dict.Items.Select(kv =>
        {
            var call = Assert.IsType<Rebuilt>(kv.Value);
            return call.For((string)kv.Key);
        }).ToList();
        return new PickleSummary(bytes[1], recorder.Globals, recorder.OrderedDicts.Contains(dict), tensors);
    }

    private sealed record Rebuilt(object?[] Args)
    {
        public TensorCall For(string name)
        {
            var pid = (object?[])Args[0]!;
            Assert.Equal("storage", pid[0]);
            return new TensorCall(name, (string)pid[1]!, (string)pid[2]!, (string)pid[3]!, (long)pid[4]!, (long)Args[1]!,
                ((object?[])Args[2]!).Select(x => (long)x!).ToArray(), ((object?[])Args[3]!).Select(x => (long)x!).ToArray(),
                (bool)Args[4]!, Assert.IsType<PickleDict>(Args[5]).Items.Count);
        }
    }

    private sealed class Recorder : IPickleResolver
    {
        public HashSet<string> Globals { get; } = new(StringComparer.Ordinal);
        public HashSet<PickleDict> OrderedDicts { get; } = new(ReferenceEqualityComparer.Instance);

        public object ResolveGlobal(string module, string name)
        {
            var g = $"{module}.{name}";
            Globals.Add(g);
            return g;
        }

        public object? Call(object? callable, object?[] args)
        {
            switch (callable)
            {
                case "collections.OrderedDict":
                    Assert.Empty(args);
                    var d = new PickleDict();
                    OrderedDicts.Add(d);
                    return d;
                case "torch._utils._rebuild_tensor_v2":
                    Assert.Equal(6, args.Length);
                    return new Rebuilt(args);
                default:
                    throw new Xunit.Sdk.XunitException($"unexpected call of {callable}");
            }
        }

        public void Build(object? target, object? state) { } // torch's state dict _metadata
        public object PersistentLoad(object? pid) => pid!;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program)).FirstOrDefault(System.IO.File.Exists);

    /// <summary>
    /// Python's zipfile + pickle (no torch): a pickle.Unpickler whose find_class allows the three torch names with stubs
    /// and whose persistent_load reads the storage entry; prints what it found as JSON.
    /// </summary>
    private const string PythonScript = """
        import collections, io, json, pickle, pickletools, sys, zipfile
        z = zipfile.ZipFile(sys.argv[1])
        assert z.testzip() is None, "CRC mismatch"
        root = z.namelist()[0].split("/")[0]
        pkl = z.read(root + "/data.pkl")
        pickletools.dis(pkl, out=io.StringIO())
        def rebuild(storage, offset, size, stride, requires_grad, hooks, *rest):
            return {"storage": storage, "offset": offset, "size": list(size), "stride": list(stride),
                    "requires_grad": requires_grad, "hooks": type(hooks).__name__ + str(len(hooks))}
        class Stub(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("collections", "OrderedDict"): return collections.OrderedDict
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"): return rebuild
                if module == "torch" and name.endswith("Storage"): return name
                raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))
            def persistent_load(self, pid):
                tag, storage_type, key, location, numel = pid
                assert tag == "storage" and location == "cpu", pid
                return {"type": storage_type, "key": key, "numel": numel, "bytes": len(z.read(root + "/data/" + key))}
        obj = Stub(io.BytesIO(pkl)).load()
        print(json.dumps({"type": type(obj).__name__, "root": root,
                          "version": z.read(root + "/version").decode(), "byteorder": z.read(root + "/byteorder").decode(),
                          "methods": [i.compress_type for i in z.infolist()],
                          "tensors": [[k, v] for k, v in obj.items()]}))
        """;

    private JsonElement RunPython(string python, string checkpoint)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(PythonScript);
        psi.ArgumentList.Add(checkpoint);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "python3 did not finish within 60 s");
        Assert.True(process.ExitCode == 0, $"python3 failed on {Path.GetFileName(checkpoint)}: {stderr.Result}");
        log.WriteLine($"python3 parsed {Path.GetFileName(checkpoint)}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
