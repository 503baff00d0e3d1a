using NextStep.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>One trainable parameter with its official (state-dict) name.</summary>
public sealed record NamedParameter(string Name, Parameter Value);

/// <summary>A set of parameters sharing one weight decay (an optimizer parameter group).</summary>
public sealed record ParameterGroup(double WeightDecay, IReadOnlyList<NamedParameter> Parameters);

/// <summary>
/// The official grouping: weight decay for every trainable parameter that is neither inside an <c>nn.LayerNorm</c>
/// nor has "bias" in its name. RMSNorm weights, embeddings and lm_head therefore decay; biases and the flow-matching
/// head's affine LayerNorms (<c>res_blocks.*.in_ln.*</c>) do not. Decay group first, then the no-decay group, each
/// in model order.
/// </summary>
public static class ParameterGroups
{
    public static IReadOnlyList<ParameterGroup> Official(nn.Module model, double weightDecay)
    {
        var layerNormPrefixes = model.named_modules()
            .Where(m => m.module is NextStep.Model.LayerNorm or TorchSharp.Modules.LayerNorm)
            .Select(m => m.name + ".")
            .ToList();
        return Split(Trainable(model), name => layerNormPrefixes.Any(name.StartsWith), weightDecay);
    }

    /// <summary>The parameters of <paramref name="model"/> that require a gradient, with their state-dict names, in model order.</summary>
    public static IReadOnlyList<NamedParameter> Trainable(nn.Module model)
        => model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => new NamedParameter(p.name, p.parameter)).ToList();

    /// <summary>Splits <paramref name="parameters"/> by the official rule; <paramref name="inLayerNorm"/> tells LayerNorm members.</summary>
    public static IReadOnlyList<ParameterGroup> Split(IReadOnlyList<NamedParameter> parameters, Func<string, bool> inLayerNorm, double weightDecay)
    {
        bool decays(NamedParameter p) => !inLayerNorm(p.Name) && !p.Name.Contains("bias");
        return
        [
            new ParameterGroup(weightDecay, parameters.Where(decays).ToList()),
            new ParameterGroup(0.0, parameters.Where(p => !decays(p)).ToList()),
        ];
    }
}
