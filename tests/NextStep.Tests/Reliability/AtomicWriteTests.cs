using NextStep.Loading;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Checkpoint writes are atomic: a write that fails (full disk) leaves the previous file loadable and no temporary
/// file behind, and a reader racing many writers of one path only ever opens complete files.
/// </summary>
public sealed class AtomicWriteTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-atomic-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static Dictionary<string, Tensor> Weights(float value, int n) => new() { ["w"] = torch.full(n, value) };

    private static float ValueOf(string path)
    {
        using var f = SafeTensorsFile.Open(path);
        using var w = f.Load("w");
        var v = w.data<float>().ToArray();
        Assert.True(v.All(x => x == v[0]), "a mix of two versions");
        return v[0];
    }

    [Fact]
    public void AFullDiskLeavesThePreviousCheckpointIntact()
    {
        using var disk = TinyDisk.TryMount(kilobytes: 64);
        if (disk is null) { output.WriteLine("not run: mounting a tmpfs needs root"); return; }
        var path = Path.Combine(disk.Folder, "model.safetensors");
        SafeTensorsWriter.Save(path, Weights(1, 1000));             // 4 KB: fits
        var e = Assert.Throws<NextStepException>(() => SafeTensorsWriter.Save(path, Weights(2, 100_000)));  // 400 KB: does not
        Assert.Contains($"{path}: cannot write the weights", e.Message);
        Assert.Contains("previous file at this path is left unchanged", e.Message);
        Assert.Equal(1f, ValueOf(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(disk.Folder).Select(Path.GetFileName));
    }

    [Fact]
    public void ReadersRacingWritersOnlySeeCompleteFiles()
    {
        var path = Path.Combine(_dir, "model.safetensors");
        SafeTensorsWriter.Save(path, Weights(0, 50_000));
        int reads = 0;
        bool done = false;
        Exception? failure = null;
        var reader = new Thread(() =>
        {
            try { while (!Volatile.Read(ref done)) { Assert.InRange(ValueOf(path), 0, 400); Interlocked.Increment(ref reads); } }
            catch (Exception e) { failure = e; }
        });
        reader.Start();
        var writers = Enumerable.Range(1, 3).Select(k => new Thread(() =>
        {
            for (int i = 0; i < 20; i++) SafeTensorsWriter.Save(path, Weights(k * 100 + i, 50_000));
        })).ToList();
        writers.ForEach(w => w.Start());
        writers.ForEach(w => w.Join());
        Volatile.Write(ref done, true);
        reader.Join();
        Assert.Null(failure);
        output.WriteLine($"{reads} complete reads during 60 writes");
        Assert.True(reads > 0);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }
}
