using NextStep.Model;
using NextStep.Tokenization;
using NextStep.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Pipeline;

/// <summary>
/// How well image tokens fit a caption by the model's own judgement: the log-likelihood of the caption (and its EOS)
/// read after the image, in the drop-text order image → caption → EOS that training teaches on <c>drop_text_prob</c>
/// of its samples. Best-of-K generation (<see cref="GenerationRequest.Candidates"/>) keeps the candidate scoring highest.
/// </summary>
public sealed class CaptionScorer
{
    private readonly NextStepModel _model;
    private readonly SequenceBuilder _sequences;

    public CaptionScorer(NextStepModel model, Qwen2Tokenizer tokenizer)
    {
        _model = model;
        var c = model.Config;
        _sequences = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
    }

    /// <summary>Sum of log p(caption token) over the caption and EOS after each image, float32 [K], for tokens [K, h·w, D].</summary>
    public Tensor Score(string caption, Tensor tokens, TokenGrid grid)
    {
        if (tokens.dim() != 3 || tokens.shape[1] != grid.Count)
            throw new NextStepException($"caption score: image tokens have shape [{string.Join(", ", tokens.shape)}], expected [K, {grid.Count}, D]");
        using var scope = NewDisposeScope();
        var ids = _sequences.TextToImage(caption, 0, grid, imageFirst: true).InputIds;
        int eoi = Array.LastIndexOf(ids, _sequences.Eoi);
        long k = tokens.shape[0];
        var row = torch.tensor(ids.Select(i => (long)i).ToArray(), device: _model.Device);
        var embeds = _model.Embed(row.unsqueeze(0).expand(k, -1), tokens);
        var hidden = _model.Forward(embeds, null, null);
        // position j predicts token j + 1: the states from EOI to the one before EOS predict caption … EOS
        var logits = _model.Logits(hidden[.., eoi..^1]).to_type(ScalarType.Float32);
        var targets = row[(eoi + 1)..].unsqueeze(0).expand(k, -1).unsqueeze(-1);
        var logProbs = nn.functional.log_softmax(logits, -1).gather(-1, targets).squeeze(-1);
        return logProbs.sum(-1).MoveToOuterDisposeScope();
    }
}
