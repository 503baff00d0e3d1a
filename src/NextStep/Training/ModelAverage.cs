using NextStep.Model;
using NextStep.Config;
using NextStep.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Writes a model folder whose weights are the element-wise mean of several model folders' weights ("model soup",
/// checkpoint averaging): meant for runs continued from one set of weights, e.g. two continuations of the default
/// model on different scenes. Every folder must hold the same tensor names and shapes; the mean is taken in float32
/// and stored in the first folder's dtype, and everything but the weights is copied from the first folder.
/// </summary>
public static class ModelAverage
{
    public static void Run(IReadOnlyList<string> modelFolders, string outFolder)
    {
        if (modelFolders.Count < 2) throw new NextStepException($"average: expected at least two model folders, got {modelFolders.Count}");
        foreach (var folder in modelFolders) ModelFolderCopy.CheckDistinct(folder, outFolder);
        ModelFolderCopy.ConfigPath(modelFolders[0]);

        var checkpoints = new List<SafeTensorsCheckpoint>();
        try
        {
            foreach (var folder in modelFolders) checkpoints.Add(SafeTensorsCheckpoint.Open(folder));
            var first = checkpoints[0];
            var names = first.Names.Order(StringComparer.Ordinal).ToList();
            foreach (var other in checkpoints.Skip(1)) CheckSameTensors(first, other);

            ModelFolderCopy.WithoutWeights(modelFolders[0], outFolder);
            using var scope = NewDisposeScope();
            var mean = names.Select(name =>
            {
                using var stored = first.Load(name);
                using var sum = stored.to(ScalarType.Float32);
                foreach (var ck in checkpoints.Skip(1))
                {
                    using var t = ck.Load(name, ScalarType.Float32);
                    Held.AddInPlace(sum, t);
                }
                using Scalar count = checkpoints.Count;
                using var average = sum.div(count);
                return new KeyValuePair<string, Tensor>(name, average.to(stored.dtype));
            }).ToList();
            DefaultModelRecipe.Save(mean, outFolder);
        }
        finally { foreach (var ck in checkpoints) ck.Dispose(); }
    }

    private static void CheckSameTensors(SafeTensorsCheckpoint a, SafeTensorsCheckpoint b)
    {
        foreach (var name in a.Names)
        {
            if (!b.Contains(name)) throw new NextStepException($"{b.Folder}: tensor '{name}' of {a.Folder} is missing (expected the same weights in every folder)");
            var (sa, sb) = (a.Info(name).Shape, b.Info(name).Shape);
            if (!sa.SequenceEqual(sb))
                throw new NextStepException($"{b.Folder}: tensor '{name}' has shape [{string.Join(", ", sb)}], expected [{string.Join(", ", sa)}] as in {a.Folder}");
        }
        if (b.Names.FirstOrDefault(n => !a.Contains(n)) is { } extra)
            throw new NextStepException($"{b.Folder}: tensor '{extra}' is not in {a.Folder} (expected the same weights in every folder)");
    }
}
