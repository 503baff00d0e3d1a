using NextStep.Loading;
using NextStep.Tokenization;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>What <see cref="Retokenize.Run"/> did.</summary>
public sealed record RetokenizeResult(int DomainMerges, int KeptRows, int AveragedRows);

/// <summary>
/// Gives a trained model folder a domain tokenizer (<see cref="DomainTokenizer"/>) and adapts its weights, so training
/// can go on with the domain's words as single tokens: a token the old vocabulary also has keeps its
/// <c>embed_tokens</c> and <c>lm_head</c> rows; a new one starts as the mean of the rows of the old tokens that spelled
/// it (computed in float32, stored in the file's dtype). Added tokens (ids from the old vocabulary size on) and every other weight are copied unchanged, as are the
/// config, the sampling profile and the VAE; eval reports of the old weights are not.
/// </summary>
public static class Retokenize
{
    private static readonly string[] RowTensors = ["embed_tokens.weight", "lm_head.weight"];

    public static RetokenizeResult Run(string modelFolder, string outFolder, IEnumerable<string> texts)
    {
        if (Path.GetFullPath(modelFolder) == Path.GetFullPath(outFolder))
            throw new NextStepException($"{outFolder}: the output folder must differ from the model folder");
        var oldTokenizer = Qwen2Tokenizer.Load(modelFolder);
        CopyFolder(modelFolder, outFolder);
        int merges = DomainTokenizer.Write(modelFolder, outFolder, texts);
        var newTokenizer = Qwen2Tokenizer.Load(outFolder);

        using var scope = NewDisposeScope();
        using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
        var weights = checkpoint.Names.ToDictionary(n => n, n => checkpoint.Load(n));
        int kept = 0, averaged = 0;
        int regular = Enumerable.Range(0, newTokenizer.VocabSize).TakeWhile(id => newTokenizer.AddedTokens.All(t => t.Id != id)).Count();
        foreach (var name in RowTensors.Where(weights.ContainsKey))
        {
            var old = weights[name];
            var rows = old.clone();
            kept = averaged = 0;
            for (int id = 0; id < regular && id < old.shape[0]; id++)
            {
                var token = newTokenizer.IdToToken(id);
                if (token is null) continue;
                if (oldTokenizer.TokenToId(token) is { } same) { rows[id] = old[same]; kept++; continue; }
                var spelled = oldTokenizer.Encode(newTokenizer.Decode([id]));
                rows[id] = old.index_select(0, tensor(spelled.Select(i => (long)i).ToArray())).to(ScalarType.Float32).mean([0]).to(old.dtype);
                averaged++;
            }
            weights[name] = rows;
        }
        DefaultModelRecipe.Save(weights, outFolder);
        return new RetokenizeResult(merges, kept, averaged);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            var name = Path.GetFileName(file);
            if (name is "EVAL.md" || name.StartsWith("model.safetensors", StringComparison.Ordinal) || name.StartsWith("model-", StringComparison.Ordinal)) continue;
            File.Copy(file, Path.Combine(to, name), overwrite: true);
        }
        foreach (var dir in Directory.GetDirectories(from))
            if (Path.GetFileName(dir) != "eval") CopyFolder(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
