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
