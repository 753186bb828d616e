"""Activation statistics of the float model, the source of every int8 scale.

The model runs once per adapter combination (none, each alone, all together), so
that each scale covers the ranges the chip sees whichever slots are enabled.
"""

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from rmlora.sw import quant
from rmlora.sw.lora import lora_layers

__all__ = ["adapter_subsets", "record", "output_scales"]


def adapter_subsets(names: list[str]) -> list[list[str]]:
    subsets = [[]] + [[n] for n in names]
    return subsets + [list(names)] if len(names) > 1 else subsets


def _activate(model: nn.Module, names: list[str]):
    for layer in lora_layers(model).values():
        layer.enable_adapters()
        layer.set_active([n for n in names if n in layer.adapters])


@contextmanager
def _hooks(taps: dict[str, tuple[nn.Module, str]], store: dict[str, list]):
    handles = []
    for key, (module, which) in taps.items():
        def hook(_module, args, out, key=key, which=which):
            tensor = args[0] if which == "in" else out
            store[key].append(tensor.detach().cpu().double().numpy())
        handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def layer_taps(layers) -> dict[str, tuple[nn.Module, str]]:
    """The input and the output of every chip layer (LayerSpec), as record()'s taps."""
    taps = {}
    for layer in layers:
        taps[layer.name + ".in"] = (layer.module, "in")
        taps[layer.name + ".out"] = (layer.module, "out")
    return taps


def record(model: nn.Module, inputs: torch.Tensor, names: list[str],
           taps: dict[str, tuple[nn.Module, str]]) -> dict[str, np.ndarray]:
    """key -> the tensor at each tap ("in": a module's first input, "out": its output),
    concatenated over the adapter combinations along the batch axis."""
    store = {key: [] for key in taps}
    with _hooks(taps, store), torch.no_grad():
        for subset in adapter_subsets(names):
            _activate(model, subset)
            model(inputs)
    _activate(model, names)
    return {key: np.concatenate(parts, axis=0) for key, parts in store.items()}


def output_scales(y: np.ndarray, act: str) -> tuple[float, float]:
    """(scale of the pre-activation y, scale of the activation's output).

    ReLU keeps the scale and drops negatives, so only y's positive range needs
    resolution (negatives saturate at -128 and become 0 anyway); GELU goes through
    a LUT from y's scale to its own output scale."""
    if act == "relu":
        scale = quant.calibrate_scale(np.maximum(y, 0.0))
        return scale, scale
    scale = quant.calibrate_scale(y)
    if act == "gelu":
        out = torch.nn.functional.gelu(torch.from_numpy(np.asarray(y, dtype=np.float64)))
        return scale, quant.calibrate_scale(out.numpy())
    return scale, scale
