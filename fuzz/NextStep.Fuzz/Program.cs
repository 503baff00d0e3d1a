using System.IO.Compression;
using NextStep;
using NextStep.Config;
using NextStep.Imaging;
using NextStep.Loading;
using NextStep.Tokenization;
using SharpFuzz;

// AFL++ harnesses (SharpFuzz) for every loader that reads files from strangers. A run counts as a crash when the
// loader throws anything but NextStepException (the clear, user-facing error). Usage: see fuzz/run.sh.
if (args.Length < 1 || !Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: NextStep.Fuzz <{string.Join("|", Targets.All.Keys)}> [file]");
    return 2;
}
if (args.Length > 1) // replay one input: any exception but NextStepException escapes and fails the process
{
    try { target(File.ReadAllBytes(args[1])); Console.WriteLine("accepted"); }
    catch (NextStepException e) { Console.WriteLine($"refused: {e.Message}"); }
    finally { Targets.DeleteScratch(); }
    return 0;
}
Fuzzer.OutOfProcess.Run(stream =>
{
    using var ms = new MemoryStream();
    stream.CopyTo(ms);
    Targets.Guard(target, ms.ToArray());
});
return 0;

static class Targets
{
    // Scratch files go to shared memory when there is one (every input is written to a file before loading).
    private static readonly string Scratch = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"nextstep-fuzz-{Environment.ProcessId}");

    /// <summary>tokenizer_config.json beside the fuzzed tokenizer.json (the tiny model's settings).</summary>
    private const string TokenizerConfig = """{"eos_token": "<|endoftext|>", "pad_token": "[PAD]", "model_max_length": 512, "padding_side": "left"}""";

    /// <summary>Text with added tokens, a lone surrogate, combining marks and several scripts.</summary>
    private const string Sample = "<|im_start|>user\nA cat\u0301 on a mat 🐈 — 猫, 123 <image> end<|im_end|>\n\ud800 x";

    /// <summary>Every entry of the storage checkpoint except its data.pkl, renamed under "checkpoint/".</summary>
    private static readonly Lazy<List<(string, byte[])>> Storages = new(() =>
    {
        var source = Environment.GetEnvironmentVariable("NEXTSTEP_FUZZ_STORAGES")
            ?? throw new InvalidOperationException("set NEXTSTEP_FUZZ_STORAGES to a torch.save checkpoint (fuzz/run.sh does)");
        using var zip = ZipFile.OpenRead(source);
        return zip.Entries.Where(e => !e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)).Select(e =>
        {
            using var s = e.Open();
            var ms = new MemoryStream();
            s.CopyTo(ms);
            return ("checkpoint/" + e.FullName[(e.FullName.IndexOf('/') + 1)..], ms.ToArray());
        }).ToList();
    });

    /// <summary>
    /// A folder holding the model.safetensors of NEXTSTEP_FUZZ_MODEL split in two shards: tensors in ordinal name order,
    /// even positions in model-00001-of-00002.safetensors, odd ones in model-00002-of-00002.safetensors (as fuzz/seeds.sh indexes them).
    /// </summary>
    private static readonly Lazy<string> Shards = new(() =>
    {
        var model = Environment.GetEnvironmentVariable("NEXTSTEP_FUZZ_MODEL")
            ?? throw new InvalidOperationException("set NEXTSTEP_FUZZ_MODEL to a model folder with model.safetensors (fuzz/run.sh does)");
        var folder = Path.Combine(Scratch, "sharded");
        Directory.CreateDirectory(folder);
        using var single = SafeTensorsFile.Open(Path.Combine(model, "model.safetensors"));
        var names = single.Tensors.Keys.Order(StringComparer.Ordinal).ToList();
        for (int s = 0; s < 2; s++)
        {
            var tensors = names.Where((_, i) => i % 2 == s).Select(n => KeyValuePair.Create(n, single.Load(n))).ToList();
            SafeTensorsWriter.Save(Path.Combine(folder, $"model-{s + 1:00000}-of-00002.safetensors"), tensors);
        }
        return folder;
    });

    public static readonly Dictionary<string, Action<byte[]>> All = new()
    {
        ["safetensors"] = bytes =>
        {
            using var f = SafeTensorsFile.Open(Write("x.safetensors", bytes));
            foreach (var name in f.Tensors.Keys) f.Load(name).Dispose();
        },
        ["config"] = bytes => NextStepConfig.Load(Write("config.json", bytes)),
        ["vae-config"] = bytes => VaeConfig.Load(Write("config.json", bytes)),
        ["tokenizer"] = bytes =>
        {
            Write("tokenizer_config.json", System.Text.Encoding.UTF8.GetBytes(TokenizerConfig));
            Write("tokenizer.json", bytes);
            var tok = Qwen2Tokenizer.Load(Scratch);
            var ids = tok.Encode(Sample);
            tok.Decode(ids);
            tok.Decode(ids, skipSpecialTokens: true);
            tok.EncodeBatch([Sample, "short"], truncation: true);
        },
        ["pickle"] = bytes =>
        {
            // The input is data.pkl; it is zipped with the storages of the checkpoint named by NEXTSTEP_FUZZ_STORAGES.
            var path = Path.Combine(Scratch, "x.pt");
            Directory.CreateDirectory(Scratch);
            using (var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create))
            {
                foreach (var (name, data) in Storages.Value.Append(("checkpoint/data.pkl", bytes)))
                {
                    using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                    s.Write(data);
                }
            }
            TorchZipCheckpoint.Load(path).Dispose();
        },
        ["image"] = bytes => ImageIO.Decode(bytes, "input"),
        ["index"] = bytes =>
        {
            // The input is model.safetensors.index.json, beside two shards of the model named by NEXTSTEP_FUZZ_MODEL.
            File.WriteAllBytes(Path.Combine(Shards.Value, "model.safetensors.index.json"), bytes);
            using var ck = SafeTensorsCheckpoint.Open(Shards.Value);
            foreach (var name in ck.Names) ck.Load(name).Dispose();
        },
    };

    private static string Write(string name, byte[] bytes)
    {
        Directory.CreateDirectory(Scratch);
        var p = Path.Combine(Scratch, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public static void DeleteScratch()
    {
        if (Directory.Exists(Scratch)) Directory.Delete(Scratch, true);
    }

    public static void Guard(Action<byte[]> target, byte[] input)
    {
        try { target(input); }
        catch (NextStepException) { }
    }
}
