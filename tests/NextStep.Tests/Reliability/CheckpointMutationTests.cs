using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;
using NextStep.Loading;
using NextStep.Tests.Loading;
using NextStep.Tests.Support;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Mutation passes over the weight containers of a model folder: the tiny VAE's <c>checkpoint.pt</c> (its pickle
/// re-zipped with valid CRCs, and the zip structure itself) and a sharded <c>model.safetensors.index.json</c>.
/// </summary>
public sealed class CheckpointMutationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-mut-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static string VaeCheckpoint => Fixtures.Path("tiny", "model", "vae", "checkpoint.pt");

    [Fact]
    public void PickleMutantsInsideAValidZipLoadOrAreRefused()
    {
        var entries = ReadEntries(VaeCheckpoint);
        int at = entries.FindIndex(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal));
        var (name, pickle) = entries[at];
        var path = Path.Combine(_dir, "pickle.pt");
        var (ok, refused) = Mutator.Run(pickle, 1500, seed: 11, target: bytes =>
        {
            entries[at] = (name, bytes);
            TorchZip.WriteEntries(path, entries);
            TorchZipCheckpoint.Load(path).Dispose();
        });
        Assert.True(ok > 0 && refused > 1000, $"accepted {ok}, refused {refused}");
    }

    [Fact]
    public void ZipStructureMutantsLoadOrAreRefused()
    {
        // Mutate the local header and pickle of data.pkl, and the central directory: the bulk storage bytes only fail their CRC.
        var zip = File.ReadAllBytes(VaeCheckpoint);
        int directory = CentralDirectoryOffset(zip);
        var path = Path.Combine(_dir, "zip.pt");
        var (ok, refused) = Mutator.Run(zip, 1500, seed: 12, target: bytes =>
        {
            File.WriteAllBytes(path, bytes);
            TorchZipCheckpoint.Load(path).Dispose();
        }, focus: [(0, 27_000), (directory, zip.Length - directory)]);
        Assert.True(ok > 0 && refused > 1000, $"accepted {ok}, refused {refused}");
    }

    [Fact]
    public void ShardIndexMutantsLoadOrAreRefused()
    {
        var folder = Path.Combine(_dir, "sharded");
        var index = ShardedCopyOfTinyModel(folder);
        var seed = File.ReadAllBytes(index);
        var (ok, refused) = Mutator.Run(seed, 2000, seed: 13, target: bytes =>
        {
            File.WriteAllBytes(index, bytes);
            using var ck = SafeTensorsCheckpoint.Open(folder);
            foreach (var n in ck.Names) ck.Load(n).Dispose();
        });
        Assert.True(ok > 0 && refused > 0, $"accepted {ok}, refused {refused}");
    }

    /// <summary>The tiny model's weights split into two shards plus the index that maps every tensor to its shard.</summary>
    internal static string ShardedCopyOfTinyModel(string folder)
    {
        Directory.CreateDirectory(folder);
        using var single = SafeTensorsFile.Open(Path.Combine(Fixtures.TinyModel, "model.safetensors"));
        var names = single.Tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int s = 0; s < 2; s++)
        {
            var shard = $"model-{s + 1:00000}-of-00002.safetensors";
            var part = names.Where((_, i) => i % 2 == s).ToList();
            var tensors = part.Select(n => KeyValuePair.Create(n, single.Load(n))).ToList();
            SafeTensorsWriter.Save(Path.Combine(folder, shard), tensors);
            foreach (var (n, t) in tensors) { map[n] = shard; t.Dispose(); }
        }
        var index = Path.Combine(folder, "model.safetensors.index.json");
        File.WriteAllText(index, JsonSerializer.Serialize(new { metadata = new { total_size = new FileInfo(single.Path).Length }, weight_map = map },
            new JsonSerializerOptions { WriteIndented = true }));
        return index;
    }

    internal static List<(string Name, byte[] Data)> ReadEntries(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        return zip.Entries.Select(e =>
        {
            using var s = e.Open();
            var ms = new MemoryStream();
            s.CopyTo(ms);
            return (e.FullName, ms.ToArray());
        }).ToList();
    }

    /// <summary>Where the central directory starts, read from the end-of-central-directory record.</summary>
    internal static int CentralDirectoryOffset(byte[] zip)
    {
        for (int i = zip.Length - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i)) == 0x06054b50)
                return (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i + 16));
        throw new InvalidDataException("no end-of-central-directory record");
    }
}
