using NextStep.Imaging;
using NextStep.Model;
using NextStep.Tokenization;
using NextStep.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Pipeline;

/// <summary>
/// How well image tokens fit a caption by the model's own judgement: the log-likelihood of the caption (and its EOS)
/// read after the image, in the drop-text order image → caption → EOS that training teaches on <c>drop_text_prob</c>
/// of its samples. Best-of-K generation (<see cref="GenerationRequest.Candidates"/>) keeps the candidate whose decoded
/// picture scores highest (<see cref="ScoreImages"/>).
/// A model trained on noised input latents (<c>noise_strength</c> &gt; 0) only ever read noised images before a
/// caption, so its images are read the same way: the mean score over <see cref="NoiseDraws"/> draws of that noise.
/// With a <see cref="MatchHead"/> (a model folder's <c>judge/</c>), the score of K candidates is the sum of two
/// z-scores across them: the caption log-likelihood's and the match head's logit's, each its mean over the same draws.
/// </summary>
public sealed class CaptionScorer
{
    /// <summary>Draws of the training input noise a score averages over (when the config's <c>noise_strength</c> is above 0).</summary>
    public const int NoiseDraws = 8;

    private readonly NextStepModel _model;
    private readonly AutoencoderKL? _vae;
    private readonly SequenceBuilder _sequences;
    private readonly long _seed;
    private readonly MatchHead? _head;

    /// <param name="seed">Seeds the input-noise draws of every <see cref="Score"/> call (the same draws for every call).</param>
    /// <param name="vae">The VAE that <see cref="ScoreImages"/> reads images with.</param>
    /// <param name="head">A match head to weigh next to the caption likelihood (see the class summary).</param>
    public CaptionScorer(NextStepModel model, Qwen2Tokenizer tokenizer, long seed = 0, AutoencoderKL? vae = null, MatchHead? head = null)
    {
        _model = model;
        _vae = vae;
        _head = head;
        _seed = seed;
        var c = model.Config;
        _sequences = new SequenceBuilder(tokenizer, c.Boi, c.Eoi, c.ImagePlaceholderId);
    }

    /// <summary>
    /// Sum of log p(caption token) over the caption and EOS after each image, float32 [K], for tokens [K, h·w, D];
    /// with input noise in the config, its mean over <see cref="NoiseDraws"/> noised copies of the tokens; with a
    /// match head, that mean's z-score across the K candidates plus the head's.
    /// </summary>
    public Tensor Score(string caption, Tensor tokens, TokenGrid grid)
    {
        if (tokens.dim() != 3 || tokens.shape[1] != grid.Count)
            throw new NextStepException($"caption score: image tokens have shape [{string.Join(", ", tokens.shape)}], expected [K, {grid.Count}, D]");
        double strength = _model.Config.NoiseStrength;
        if (strength == 0) return ScoreAsIs(caption, tokens, grid);
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)_seed), _model.Device);
        var latents = _model.Unpatchify(tokens, grid.Height, grid.Width).unbind(0);
        var ids = CaptionRow(caption, grid);
        var sum = zeros(tokens.shape[0], ScalarType.Float32, _model.Device);
        var matchSum = zeros(tokens.shape[0], ScalarType.Float32, _model.Device);
        for (int d = 0; d < NoiseDraws; d++)
        {
            var (logLik, match) = ScoreRow(ids, _model.Patchify(stack(Losses.InputNoise(latents, strength, generator).ToArray())));
            Held.AddInPlace(sum, logLik);
            if (match is not null) Held.AddInPlace(matchSum, match);
        }
        if (_head is not null) return ZSum(sum, matchSum).MoveToOuterDisposeScope(); // a mean's z-score is the sum's
        using Scalar draws = NoiseDraws; // held until the call returns (see AdamW.Update)
        return sum.div(draws).MoveToOuterDisposeScope();
    }

    /// <summary>z(a) + z(b) across the candidates (population standard deviation; 0 for one candidate).</summary>
    internal static Tensor ZSum(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        using Scalar eps = 1e-6; // held until the call returns (see AdamW.Update)
        Tensor Z(Tensor x) => (x - x.mean()).div(Held.Add(x.std(unbiased: false), eps));
        return Held.Add(Z(a), Z(b)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The score of 8-bit images as a user sees them: each read back through the VAE encoder (posterior mean, normalised
    /// like training latents) and scored as <see cref="Score"/> scores tokens. A sampled token can decode to a picture
    /// that differs from what the tokens claim (a star with stubby arms); read back, the judge sees that picture.
    /// </summary>
    public Tensor ScoreImages(string caption, IReadOnlyList<RgbImage> images, TokenGrid grid)
    {
        var vae = _vae ?? throw new NextStepException("caption score of images: the scorer was made without a VAE");
        using var scope = NewDisposeScope();
        var (mean, _) = vae.EncodeMoments(NextStepPipeline.ToPixels(images));
        var tokens = _model.Patchify(vae.NormalizeLatents(mean).to(_model.DType, _model.Device));
        return Score(caption, tokens, grid).MoveToOuterDisposeScope();
    }

    /// <summary>The score of the tokens exactly as given.</summary>
    public Tensor ScoreAsIs(string caption, Tensor tokens, TokenGrid grid)
    {
        using var scope = NewDisposeScope();
        var (logLik, match) = ScoreRow(CaptionRow(caption, grid), tokens);
        return (match is null ? logLik : ZSum(logLik, match)).MoveToOuterDisposeScope();
    }

    /// <summary>The drop-text row image → caption → EOS whose caption part is scored.</summary>
    private int[] CaptionRow(string caption, TokenGrid grid) => _sequences.TextToImage(caption, 0, grid, imageFirst: true).InputIds;

    /// <summary>
    /// log p(next token) at every position from EOI to the last but one of rows <paramref name="ids"/> [B, S] with hidden
    /// states [B, S, H]: float32 [B, S − 1 − eoi]. Position j predicts token j + 1, so in a drop-text row these are the
    /// caption's tokens and its EOS.
    /// </summary>
    public static Tensor NextTokenLogProbs(NextStepModel model, Tensor hidden, Tensor ids, int eoi)
    {
        using var scope = NewDisposeScope();
        var logits = model.Logits(hidden[.., eoi..^1]).to_type(ScalarType.Float32);
        return nn.functional.log_softmax(logits, -1).gather(-1, ids[.., (eoi + 1)..].unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The caption log-likelihood [K] of each image, and the match head's logit [K] when there is a head.</summary>
    private (Tensor LogLik, Tensor? Match) ScoreRow(int[] ids, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        int eoi = Array.LastIndexOf(ids, _sequences.Eoi);
        long k = tokens.shape[0];
        var row = torch.tensor(ids.Select(i => (long)i).ToArray(), device: _model.Device);
        var rows = row.unsqueeze(0).expand(k, -1);
        var hidden = _model.Forward(_model.Embed(rows, tokens), null, null);
        var logProbs = NextTokenLogProbs(_model, hidden, rows, eoi);
        var match = _head?.forward(MatchHead.Features(hidden, logProbs, eoi)).to(_model.Device);
        return (logProbs.sum(-1).MoveToOuterDisposeScope(), match?.MoveToOuterDisposeScope());
    }
}
