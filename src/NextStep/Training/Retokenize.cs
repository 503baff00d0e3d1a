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
        ModelFolderCopy.CheckDistinct(modelFolder, outFolder);
        var oldTokenizer = Qwen2Tokenizer.Load(modelFolder);
        ModelFolderCopy.WithoutWeights(modelFolder, outFolder);
        int merges = DomainTokenizer.Write(modelFolder, outFolder, texts);
        var newTokenizer = Qwen2Tokenizer.Load(outFolder);

        // Where each regular row of the new vocabulary comes from: the same token's old row, or its old spelling.
        int regular = newTokenizer.AddedTokens.Count == 0 ? newTokenizer.VocabSize : newTokenizer.AddedTokens.Min(t => t.Id);
        var sources = new List<(int Id, int[] OldIds, bool Kept)>();
        for (int id = 0; id < regular; id++)
        {
            if (newTokenizer.IdToToken(id) is not { } token) continue;
            sources.Add(oldTokenizer.TokenToId(token) is { } same ? (id, [same], true) : (id, oldTokenizer.Encode(newTokenizer.Decode([id])), false));
        }

        using var scope = NewDisposeScope();
        using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
        var weights = checkpoint.Names.ToDictionary(n => n, n => checkpoint.Load(n));
        foreach (var name in RowTensors.Where(weights.ContainsKey))
        {
            var old = weights[name];
            var rows = old.clone();
            foreach (var (id, oldIds, kept) in sources.Where(s => s.Id < old.shape[0]))
                rows[id] = kept ? old[oldIds[0]] : old.index_select(0, tensor(oldIds.Select(i => (long)i).ToArray())).to(ScalarType.Float32).mean([0]).to(old.dtype);
            weights[name] = rows;
        }
        DefaultModelRecipe.Save(weights, outFolder);
        return new RetokenizeResult(merges, sources.Count(s => s.Kept), sources.Count(s => !s.Kept));
    }
}
