"""Front end for nn.Sequential MLPs: Linear (or LoraLinear) layers, each optionally
followed by ReLU or GELU. The whole network is one segment on one vector."""

import sys

import torch
from torch import nn

from rmlora.sw import quant
from rmlora.sw.lora import LoraLinear

from .calibrate import layer_taps, output_scales, record
from .front_end import register_front_end
from .spec import Calibration, LayerSpec, SegmentSpec
from .steps import ChipStep, QuantizeInput

__all__ = ["structure", "calibrate", "activation_of"]


def activation_of(name: str, module: nn.Module) -> str:
    """The chip's name for an activation module; GELU is erf GELU (its LUT's formula)."""
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.GELU) and module.approximate == "none":
        return "gelu"
    raise ValueError(f"module {name!r}: {module!r} is not an activation the chip has "
                     f"(ReLU, GELU with approximate='none')")


def structure(model: nn.Sequential) -> tuple[list[LayerSpec], list[SegmentSpec]]:
    layers, open_linear = [], False
    for name, module in model.named_children():
        if isinstance(module, nn.Linear | LoraLinear):
            layers.append(LayerSpec(name, module))
            open_linear = True
        elif isinstance(module, nn.Identity):
            continue
        elif isinstance(module, nn.ReLU | nn.GELU):
            if not open_linear:
                raise ValueError(f"module {name!r} ({type(module).__name__}) does not follow a "
                                 f"Linear: the chip applies activations inside a layer")
            layers[-1].act = activation_of(name, module)
            open_linear = False
        else:
            raise ValueError(f"module {name!r}: {type(module).__name__} has no chip equivalent "
                             f"(Linear, LoraLinear, ReLU, GELU, Identity)")
    if not layers:
        raise ValueError("the model has no Linear layer")
    for a, b in zip(layers, layers[1:], strict=False):
        if a.module.out_features != b.module.in_features:
            raise ValueError(f"layer {a.name!r} gives {a.module.out_features} outputs, layer "
                             f"{b.name!r} takes {b.module.in_features}")
    return layers, [SegmentSpec("mlp", [layer.name for layer in layers], 1)]


def calibrate(model: nn.Sequential, layers: list[LayerSpec], inputs: torch.Tensor,
              names: list[str]) -> Calibration:
    if inputs.ndim != 2 or inputs.shape[1] != layers[0].module.in_features:
        raise ValueError(f"calibration inputs of shape {tuple(inputs.shape)}: expected "
                         f"(batch, {layers[0].module.in_features})")
    taps = layer_taps(layers)
    seen = record(model, inputs, names, taps)
    input_scale = scale = quant.calibrate_scale(inputs.double().numpy())
    cal = Calibration({}, {}, {}, [QuantizeInput(input_scale), ChipStep(0)], input_scale)
    for layer in layers:
        cal.x[layer.name] = seen[layer.name + ".in"]
        cal.in_scale[layer.name] = scale
        cal.out_scale[layer.name] = output_scales(seen[layer.name + ".out"], layer.act)
        scale = cal.out_scale[layer.name][1]
    cal.output_scale = scale
    return cal


register_front_end(nn.Sequential, sys.modules[__name__])
