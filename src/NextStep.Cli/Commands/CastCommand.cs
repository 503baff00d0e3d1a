using System.CommandLine;
using NextStep.Config;
using NextStep.Training;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep cast --model DIR --out DIR [--dtype T] [--vae-dtype T]</c>: a copy of a model folder with its weights stored in another dtype (<see cref="ModelCast"/>).</summary>
public static class CastCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder to copy", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Store model.safetensors as float32, float16 or bfloat16 (default: as it is)" };
        var vaeDtype = new Option<string?>("--vae-dtype") { Description = "Store the VAE weights as float32, float16 or bfloat16 (default: as they are)" };
        var cmd = new Command("cast", "Copy a model folder with its weights stored in another dtype (e.g. float16 to halve its size)") { model, output, dtype, vaeDtype };
        cmd.SetAction(p =>
        {
            var m = p.GetValue(dtype) is { } d ? DTypeName.Parse(d, "--dtype") : (TorchSharp.torch.ScalarType?)null;
            var v = p.GetValue(vaeDtype) is { } vd ? DTypeName.Parse(vd, "--vae-dtype") : (TorchSharp.torch.ScalarType?)null;
            if (m is null && v is null) throw new NextStepException("nothing to cast: give --dtype and/or --vae-dtype");
            ModelCast.Run(p.GetValue(model)!, p.GetValue(output)!, m, v);
            p.InvocationConfiguration.Output.WriteLine($"wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }
}
