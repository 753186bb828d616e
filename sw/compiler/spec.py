"""What a model front end tells the compiler: its chip layers, segments, scales.

A front end (mlp.py, mixer.py) knows one model family's structure; everything
after it (quantisation, placement, SRAM layout) is shared.
"""

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from rmlora.sw.lora import LoraLinear

__all__ = ["ACTIVATIONS", "LayerSpec", "SegmentSpec", "SpikingSegmentSpec", "Calibration",
           "base_linear", "float_weight", "float_adapter"]

ACTIVATIONS = ("identity", "relu", "gelu")


@dataclass
class LayerSpec:
    """A weight matrix (nn.Linear or LoraLinear) and the activation after it."""

    name: str
    module: nn.Module
    act: str = "identity"


@dataclass(frozen=True)
class SegmentSpec:
    """A chain of layers applied to `vectors` input vectors, layer by layer."""

    name: str
    layers: list[str]
    vectors: int


@dataclass(frozen=True)
class SpikingSegmentSpec:
    """A recurrent layer of LIF neurons over `steps` time steps, then a readout over its
    spike counts (issue 21's liquid-state machine), in one layer program.

    The reservoir's inputs are [x_t | s_{t-1}]: x_t, the step's own `x_bytes` inputs
    (padded to whole SRAM words), then the neurons' spikes of the step before. Its
    pass over the `steps` vectors writes step t's spikes into vector t + 1's recurrent
    part; the readout (one vector) reads the neurons' counts."""

    name: str
    reservoir: str
    readout: str
    steps: int
    x_bytes: int

    @property
    def layers(self) -> list[str]:
        return [self.reservoir, self.readout]


@dataclass
class Calibration:
    """Float statistics of the model on the calibration data, and the host steps."""

    x: dict[str, np.ndarray]  # layer -> float inputs (samples, n_in)
    in_scale: dict[str, float]  # layer -> scale of its int8 input
    out_scale: dict[str, tuple[float, float]]  # layer -> (pre-activation, output) scale
    steps: list = field(default_factory=list)
    input_scale: float = 1.0
    output_scale: float = 1.0


def base_linear(module: nn.Module) -> nn.Linear:
    return module.base_layer if isinstance(module, LoraLinear) else module


def float_weight(module: nn.Module) -> np.ndarray:
    """The frozen matrix for the crossbar, (n_out, n_in) float64."""
    return base_linear(module).weight.detach().cpu().double().numpy()


def float_adapter(module: nn.Module, name: str):
    """(A (r, n), B (m, r), alpha / r) of adapter `name`, or None if the layer lacks it."""
    if not isinstance(module, LoraLinear) or name not in module.adapters:
        return None
    a = module.lora_A[name].weight.detach().cpu().double().numpy()
    b = module.lora_B[name].weight.detach().cpu().double().numpy()
    return a, b, module.scaling[name]
