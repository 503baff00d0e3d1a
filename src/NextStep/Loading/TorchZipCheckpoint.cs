using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>Limits applied while reading a <c>torch.save</c> zip archive (zip bombs and hostile archives fail fast).</summary>
public sealed record TorchZipLimits
{
    public int MaxEntries { get; init; } = 1_000_000;
    public long MaxEntryBytes { get; init; } = 64L << 30;
    public long MaxTotalBytes { get; init; } = 256L << 30;
    /// <summary>Largest allowed uncompressed/compressed ratio of a deflated entry over 1 MiB.</summary>
    public long MaxCompressionRatio { get; init; } = 100;
    public int MaxRank { get; init; } = 16;
    public int MaxTensors { get; init; } = 1_000_000;
    public PickleLimits Pickle { get; init; } = PickleLimits.Default;
    public static TorchZipLimits Default { get; } = new();
}

/// <summary>
/// Reads the tensors of a <c>torch.save</c> zip checkpoint (PyTorch ≥ 1.6 format: <c>&lt;root&gt;/data.pkl</c> plus raw
/// storages <c>&lt;root&gt;/data/&lt;key&gt;</c>) without executing anything. The pickle may only name
/// <c>collections.OrderedDict</c>, the <c>torch._utils._rebuild_tensor</c>/<c>_rebuild_tensor_v2</c>/<c>_rebuild_parameter</c>
/// functions and the typed <c>torch.*Storage</c> classes; any other global is refused. The top-level object must be a
/// state dict or a dict holding one under <c>"state_dict"</c>. Tensors are native CPU tensors in the stored dtype,
/// created from the storage bytes; non-tensor entries are skipped and listed in <see cref="SkippedKeys"/>.
/// </summary>
public sealed class TorchZipCheckpoint : IDisposable
{
    public string Path { get; }
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }
    /// <summary>State-dict entries that were not tensors (ignored).</summary>
    public IReadOnlyList<string> SkippedKeys { get; }
    /// <summary>True when the state dict was nested under a <c>"state_dict"</c> key.</summary>
    public bool WasNested { get; }

    private TorchZipCheckpoint(string path, Dictionary<string, Tensor> tensors, List<string> skipped, bool nested)
    {
        Path = path; Tensors = tensors; SkippedKeys = skipped; WasNested = nested;
    }

    public static TorchZipCheckpoint Load(string path, TorchZipLimits? limits = null)
    {
        limits ??= TorchZipLimits.Default;
        if (!File.Exists(path)) throw new NextStepException($"{path}: file not found");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        CheckMagic(path, fs);
        try
        {
            using var zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: true);
            return Read(path, new Archive(path, fs.Length, zip, limits), limits);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException or ArgumentException)
        {
            throw new NextStepException($"{path}: corrupt or truncated zip archive ({e.Message})", e);
        }
    }

    private static TorchZipCheckpoint Read(string path, Archive archive, TorchZipLimits limits)
    {
        var resolver = new TorchResolver(archive, limits);
        try
        {
            byte[] pickle = archive.ReadSmall("data.pkl", limits.Pickle.MaxPickleBytes);
            var root = new Unpickler(archive.PicklePath, pickle, resolver, limits.Pickle).Load();
            return FromRoot(path, root, resolver);
        }
        catch
        {
            resolver.DisposeTensorsExcept([]);
            throw;
        }
        finally { resolver.DisposeStorages(); }
    }

    private static void CheckMagic(string path, FileStream fs)
    {
        Span<byte> head = stackalloc byte[4];
        int n = fs.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        fs.Position = 0;
        if (n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new NextStepException($"{path}: legacy (pre-1.6) torch.save file, not a zip archive; re-save it with a current PyTorch or convert it to safetensors");
        throw new NextStepException($"{path}: not a PyTorch zip checkpoint (the file does not start with a zip header)");
    }

    private static TorchZipCheckpoint FromRoot(string path, object? root, TorchResolver resolver)
    {
        if (root is not PickleDict dict) throw new NextStepException($"{path}: expected a state dict at the top level, found {Unpickler.Describe(root)}");
        bool nested = false;
        var skipped = new List<string>();
        if (dict.Items.TryGetValue("state_dict", out var inner))
        {
            if (inner is not PickleDict innerDict) throw new NextStepException($"{path}: \"state_dict\" holds {Unpickler.Describe(inner)}, expected a dict of tensors");
            skipped.AddRange(dict.Items.Keys.Where(k => !Equals(k, "state_dict")).Select(k => k.ToString() ?? ""));
            dict = innerDict;
            nested = true;
        }
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
        {
            if (key is string name && value is Tensor t) tensors[name] = t;
            else skipped.Add(key.ToString() ?? "");
        }
        resolver.DisposeTensorsExcept(tensors.Values);
        return new TorchZipCheckpoint(path, tensors, skipped, nested);
    }

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }

    /// <summary>The validated entries of the zip archive, all under one root folder.</summary>
    private sealed class Archive
    {
        private readonly string _path;
        private readonly Dictionary<string, ZipArchiveEntry> _entries = new(StringComparer.Ordinal);
        public string Root { get; }
        public string PicklePath => $"{_path} ({Root}/data.pkl)";

        public Archive(string path, long fileLength, ZipArchive zip, TorchZipLimits limits)
        {
            _path = path;
            if (zip.Entries.Count > limits.MaxEntries) throw new NextStepException($"{path}: {zip.Entries.Count} zip entries exceed the limit of {limits.MaxEntries}");
            long total = 0;
            string? root = null;
            foreach (var e in zip.Entries)
            {
                string name = e.FullName;
                var parts = name.Split('/');
                if (name.Length == 0 || name.Length > 4096 || name.Contains('\\') || name.Contains(':') || name.Contains('\0') || name.StartsWith('/')
                    || parts.Length < 2 || parts.Any(p => p is "" or "." or ".."))
                    throw new NextStepException($"{path}: zip entry name \"{name}\" is not allowed (absolute, empty segment, '..', or outside one root folder)");
                if (root == null) root = parts[0];
                else if (parts[0] != root) throw new NextStepException($"{path}: zip entry name \"{name}\" is not allowed (outside the archive's root folder \"{root}\")");
                string relative = name[(root.Length + 1)..];
                if (!_entries.TryAdd(relative, e)) throw new NextStepException($"{path}: zip entry \"{name}\" appears twice");
                if (e.Length < 0 || e.Length > limits.MaxEntryBytes)
                    throw new NextStepException($"{path}: zip entry \"{name}\" declares {e.Length} bytes, over the limit of {limits.MaxEntryBytes}");
                if (e.CompressedLength < 0 || e.CompressedLength > fileLength)
                    throw new NextStepException($"{path}: zip entry \"{name}\" declares {e.CompressedLength} compressed bytes, more than the file holds ({fileLength})");
                if (e.Length > (1 << 20) && e.Length / Math.Max(1, e.CompressedLength) > limits.MaxCompressionRatio)
                    throw new NextStepException($"{path}: zip entry \"{name}\" expands {e.CompressedLength} bytes to {e.Length} (ratio over {limits.MaxCompressionRatio}; refusing a possible zip bomb)");
                total += e.Length;
                if (total > limits.MaxTotalBytes) throw new NextStepException($"{path}: entries declare more than {limits.MaxTotalBytes} bytes in total");
            }
            Root = root ?? throw new NextStepException($"{path}: empty zip archive");
            if (!_entries.ContainsKey("data.pkl")) throw new NextStepException($"{path}: no \"{Root}/data.pkl\" entry (not a torch.save checkpoint)");
            if (_entries.ContainsKey("byteorder"))
            {
                var order = Encoding.ASCII.GetString(ReadSmall("byteorder", 16));
                if (order != "little") throw new NextStepException($"{path}: byteorder \"{order}\" is not supported (expected \"little\")");
            }
        }

        public ZipArchiveEntry Entry(string relative) =>
            _entries.TryGetValue(relative, out var e) ? e : throw new NextStepException($"{_path}: zip entry \"{Root}/{relative}\" is missing");

        public byte[] ReadSmall(string relative, long limit)
        {
            var e = Entry(relative);
            if (e.Length > limit || e.Length > Array.MaxLength) throw new NextStepException($"{_path}: \"{Root}/{relative}\" is {e.Length} bytes, over the limit of {limit}");
            var bytes = new byte[e.Length];
            unsafe { fixed (byte* p = bytes) ReadInto(relative, p, bytes.Length); }
            return bytes;
        }

        /// <summary>
        /// Decompresses an entry into <paramref name="dest"/>, which must hold exactly its declared length. The zip reader
        /// stops at the declared length, so the CRC-32 is checked as well: it catches data longer than declared and corruption.
        /// </summary>
        public unsafe void ReadInto(string relative, byte* dest, long length)
        {
            var e = Entry(relative);
            if (e.Length != length) throw new NextStepException($"{_path}: \"{Root}/{relative}\" holds {e.Length} bytes, expected {length}");
            try
            {
                using var s = e.Open();
                var crc = new Crc32();
                long done = 0;
                while (done < length)
                {
                    var chunk = new Span<byte>(dest + done, (int)Math.Min(length - done, 1 << 30));
                    int n = s.Read(chunk);
                    if (n == 0) throw new NextStepException($"{_path}: \"{Root}/{relative}\" ends after {done} of its declared {length} bytes (truncated)");
                    crc.Append(chunk[..n]);
                    done += n;
                }
                Span<byte> probe = stackalloc byte[1];
                if (s.Read(probe) != 0) throw new NextStepException($"{_path}: \"{Root}/{relative}\" holds more data than its declared {length} bytes");
                if (crc.GetCurrentHashAsUInt32() != e.Crc32)
                    throw new NextStepException($"{_path}: \"{Root}/{relative}\" fails its CRC-32 check (corrupt, or more data than its declared {length} bytes)");
            }
            catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or IOException)
            { throw new NextStepException($"{_path}: \"{Root}/{relative}\" is corrupt or uses an unsupported compression ({ex.Message})", ex); }
        }
    }

    /// <summary>A storage class named by the pickle (e.g. <c>torch.FloatStorage</c>).</summary>
    private sealed record StorageType(string Name, ScalarType DType, int ElementSize);
    /// <summary>A storage read from the archive (the result of a persistent id).</summary>
    private sealed record StorageRef(StorageType Type, Tensor Data);
    /// <summary>An allowed callable named by the pickle.</summary>
    private sealed record AllowedGlobal(string Name);

    /// <summary>The allow-list: only what a state dict of plain tensors needs.</summary>
    private sealed class TorchResolver(Archive archive, TorchZipLimits limits) : IPickleResolver
    {
        private static readonly Dictionary<string, (ScalarType, int)> Storages = new()
        {
            ["FloatStorage"] = (ScalarType.Float32, 4), ["DoubleStorage"] = (ScalarType.Float64, 8),
            ["HalfStorage"] = (ScalarType.Float16, 2), ["BFloat16Storage"] = (ScalarType.BFloat16, 2),
            ["LongStorage"] = (ScalarType.Int64, 8), ["IntStorage"] = (ScalarType.Int32, 4),
            ["ShortStorage"] = (ScalarType.Int16, 2), ["CharStorage"] = (ScalarType.Int8, 1),
            ["ByteStorage"] = (ScalarType.Byte, 1), ["BoolStorage"] = (ScalarType.Bool, 1),
        };
        private static readonly AllowedGlobal OrderedDict = new("collections.OrderedDict");
        private static readonly AllowedGlobal RebuildTensor = new("torch._utils._rebuild_tensor");
        private static readonly AllowedGlobal RebuildTensorV2 = new("torch._utils._rebuild_tensor_v2");
        private static readonly AllowedGlobal RebuildParameter = new("torch._utils._rebuild_parameter");

        private readonly Dictionary<string, StorageRef> _storages = new(StringComparer.Ordinal);
        private readonly List<Tensor> _tensors = new();
        private string File => archive.PicklePath;

        public object ResolveGlobal(string module, string name)
        {
            if (module == "collections" && name == "OrderedDict") return OrderedDict;
            if (module == "torch._utils")
            {
                if (name == "_rebuild_tensor_v2") return RebuildTensorV2;
                if (name == "_rebuild_tensor") return RebuildTensor;
                if (name == "_rebuild_parameter") return RebuildParameter;
            }
            if (module == "torch" && Storages.TryGetValue(name, out var s)) return new StorageType(name, s.Item1, s.Item2);
            throw new NextStepException($"refusing global {module}.{name} in {File} (only OrderedDict, torch tensor rebuild functions and torch storage types are allowed)");
        }

        public object? Call(object? callable, object?[] args)
        {
            if (ReferenceEquals(callable, OrderedDict))
            {
                if (args.Length != 0) throw Refuse("collections.OrderedDict with arguments");
                return new PickleDict();
            }
            if (ReferenceEquals(callable, RebuildTensorV2))
            {
                if (args.Length is < 6 or > 7) throw Refuse($"_rebuild_tensor_v2 with {args.Length} arguments");
                CheckHooks(args[5]);
                return Rebuild(args[0], args[1], args[2], args[3], args[4]);
            }
            if (ReferenceEquals(callable, RebuildTensor))
            {
                if (args.Length != 4) throw Refuse($"_rebuild_tensor with {args.Length} arguments");
                return Rebuild(args[0], args[1], args[2], args[3], false);
            }
            if (ReferenceEquals(callable, RebuildParameter))
            {
                if (args.Length != 3 || args[0] is not Tensor t || args[1] is not bool) throw Refuse("_rebuild_parameter with unexpected arguments");
                CheckHooks(args[2]);
                return t;
            }
            throw Refuse($"a call of {Unpickler.Describe(callable)}");
        }

        public void Build(object? target, object? state)
        {
            // torch pickles a state dict's _metadata (module versions) as BUILD state of the OrderedDict; it is not needed.
            if (target is PickleDict && state is PickleDict) return;
            throw Refuse($"BUILD on {Unpickler.Describe(target)} with {Unpickler.Describe(state)}");
        }

        public object PersistentLoad(object? pid)
        {
            if (pid is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not StorageType type || t[2] is not string key || t[3] is not string || t[4] is not long numel)
                throw new NextStepException($"{File}: unexpected persistent id {Unpickler.Describe(pid)} (expected ('storage', type, key, location, numel))");
            if (key.Length == 0 || key.Length > 64 || !key.All(char.IsAsciiLetterOrDigit))
                throw new NextStepException($"{File}: storage key \"{key}\" is not allowed (expected letters and digits)");
            if (_storages.TryGetValue(key, out var known))
            {
                if (known.Type.DType != type.DType || known.Data.numel() != numel)
                    throw new NextStepException($"{File}: storage \"{key}\" is referenced as {type.Name}[{numel}] and as {known.Type.Name}[{known.Data.numel()}]");
                return known;
            }
            if (numel < 0) throw new NextStepException($"{File}: storage \"{key}\" has negative size {numel}");
            long bytes;
            try { bytes = checked(numel * type.ElementSize); }
            catch (OverflowException) { throw new NextStepException($"{File}: storage \"{key}\" size {numel} overflows"); }
            var declared = archive.Entry($"data/{key}").Length;
            if (declared != bytes)
                throw new NextStepException($"{File}: storage \"{key}\" should hold {numel} × {type.Name} = {bytes} bytes but its zip entry holds {declared}");
            var data = empty(numel, type.DType);
            try
            {
                if (bytes > 0) unsafe { archive.ReadInto($"data/{key}", (byte*)data.DataPtr(), bytes); }
            }
            catch { data.Dispose(); throw; }
            return _storages[key] = new StorageRef(type, data);
        }

        private Tensor Rebuild(object? storage, object? offsetArg, object? sizeArg, object? strideArg, object? requiresGrad)
        {
            if (storage is not StorageRef(var type, var data)) throw Refuse($"rebuilding a tensor from {Unpickler.Describe(storage)}");
            if (offsetArg is not long offset || offset < 0) throw new NextStepException($"{File}: tensor storage offset {Unpickler.Describe(offsetArg)} is invalid");
            if (requiresGrad is not bool) throw new NextStepException($"{File}: tensor requires_grad must be a bool");
            var size = Longs(sizeArg, "size");
            var stride = Longs(strideArg, "stride");
            if (size.Length != stride.Length) throw new NextStepException($"{File}: tensor size has {size.Length} dims but stride has {stride.Length}");
            long storageNumel = data.numel();
            try
            {
                long numel = 1, last = offset;
                for (int i = 0; i < size.Length; i++)
                {
                    numel = checked(numel * size[i]);
                    if (size[i] > 0) last = checked(last + checked((size[i] - 1) * stride[i]));
                }
                bool fits = numel == 0 ? offset <= storageNumel : last < storageNumel;
                if (!fits)
                    throw new NextStepException($"{File}: tensor of size [{string.Join(",", size)}], stride [{string.Join(",", stride)}], offset {offset} reaches element {last} of a {type.Name} of {storageNumel} elements");
            }
            catch (OverflowException) { throw new NextStepException($"{File}: tensor size [{string.Join(",", size)}] / stride [{string.Join(",", stride)}] / offset {offset} overflows"); }
            if (_tensors.Count >= limits.MaxTensors) throw new NextStepException($"{File}: more than {limits.MaxTensors} tensors");
            var t = data.as_strided(size, stride, offset);
            _tensors.Add(t);
            return t;
        }

        private long[] Longs(object? v, string what)
        {
            if (v is not object?[] t || t.Length > limits.MaxRank || t.Any(x => x is not long n || n < 0))
                throw new NextStepException($"{File}: tensor {what} {Unpickler.Describe(v)} must be a tuple of at most {limits.MaxRank} non-negative integers");
            return t.Select(x => (long)x!).ToArray();
        }

        private void CheckHooks(object? hooks)
        {
            if (hooks is not null && hooks is not PickleDict { Items.Count: 0 }) throw Refuse("tensor backward hooks");
        }

        private NextStepException Refuse(string what) => new($"refusing {what} in {File}");

        public void DisposeStorages()
        {
            foreach (var s in _storages.Values) s.Data.Dispose();
        }

        public void DisposeTensorsExcept(IEnumerable<Tensor> keep)
        {
            var kept = new HashSet<Tensor>(keep, ReferenceEqualityComparer.Instance);
            foreach (var t in _tensors) if (!kept.Contains(t)) t.Dispose();
        }
    }
}
