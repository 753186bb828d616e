"""The network between the chip's segments: steps over named int8 tensors.

Each step reads and writes entries of an environment dict (tensor name ->
(batch, vectors, features) int8 array). `ChipStep` runs a segment on the chip;
the host steps are the integer operations of rmlora.sw.compiler.host_ops with
constants compiled once, so the whole network is integer arithmetic end to end.
"""

from dataclasses import dataclass

import numpy as np
import torch

from rmlora.sw import quant
from rmlora.sw.models.mixer import patchify

from . import host_ops

__all__ = ["quantize_patches", "ChipStep", "QuantizeInput", "SpikeInput", "RmsNormStep",
           "TransposeStep", "AddStep", "MeanStep", "INPUT"]

INPUT = "input"  # the float inputs the network is called with


def quantize_patches(images: np.ndarray, patch_size: int, scale: float) -> np.ndarray:
    """(B, H, W) float images to int8 patch tokens in the model's own token order (the
    host or its input DMA does this reordering)."""
    return quant.quantize(patchify(torch.from_numpy(images), patch_size).numpy(), scale)


@dataclass(frozen=True)
class ChipStep:
    """env[dst] = the chip's segment `segment` (an index) applied to env[src]."""

    segment: int
    src: str = "x"
    dst: str = "x"


@dataclass(frozen=True)
class QuantizeInput:
    """Float inputs to int8 with the calibrated scale; images are cut into patches first
    (patch_size set): the host or its input DMA does this reordering."""

    scale: float
    patch_size: int | None = None
    dst: str = "x"

    def apply(self, env: dict):
        x = np.asarray(env[INPUT], dtype=np.float64)
        if self.patch_size is None:
            env[self.dst] = quant.quantize(x.reshape(x.shape[0], 1, -1), self.scale)
        else:
            env[self.dst] = quantize_patches(x, self.patch_size, self.scale)


@dataclass(frozen=True)
class SpikeInput:
    """Spike trains to a spiking segment's input vectors: flat rows (B, steps * inputs) of
    0/1, step-major (rmlora.sw.data.fsdd_spikes), to (B, steps, width) int8, step t's
    spikes in its first `inputs` bytes and zeros after them (the padding to whole words
    and the recurrent part, which the chip fills with the step before's spikes). Anything
    but 0 and 1 is refused, naming the first bad value, before the chip sees it."""

    inputs: int
    steps: int
    width: int
    dst: str = "x"

    def apply(self, env: dict):
        x = np.asarray(env[INPUT])
        x = x.reshape(len(x), -1)
        if x.shape[1] != self.steps * self.inputs:
            raise ValueError(f"spike inputs have {x.shape[1]} values per row, the network "
                             f"takes {self.steps} steps x {self.inputs} inputs = "
                             f"{self.steps * self.inputs}")
        bad = (x != 0) & (x != 1)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"spike inputs must be 0 or 1: row {row}, step "
                             f"{col // self.inputs}, input {col % self.inputs} is "
                             f"{x[row, col]} ({int(bad.sum())} such values)")
        out = np.zeros((len(x), self.steps, self.width), dtype=np.int8)
        out[:, :, :self.inputs] = x.reshape(len(x), self.steps, self.inputs)
        env[self.dst] = out


@dataclass(frozen=True)
class RmsNormStep:
    q: host_ops.RmsNormQ
    src: str = "x"
    dst: str = "x"

    def apply(self, env: dict):
        env[self.dst] = host_ops.rmsnorm(env[self.src], self.q)


@dataclass(frozen=True)
class TransposeStep:
    """Swap vectors and features: token mixing runs along the other axis."""

    src: str = "x"
    dst: str = "x"

    def apply(self, env: dict):
        env[self.dst] = np.ascontiguousarray(np.swapaxes(env[self.src], 1, 2))


@dataclass(frozen=True)
class AddStep:
    """Residual add of two tensors with their own scales."""

    q: host_ops.AddQ
    a: str
    b: str
    dst: str

    def apply(self, env: dict):
        env[self.dst] = host_ops.add(env[self.a], env[self.b], self.q)


@dataclass(frozen=True)
class MeanStep:
    """Mean over the vectors (tokens), kept as one vector."""

    q: host_ops.MeanQ
    src: str = "x"
    dst: str = "x"

    def apply(self, env: dict):
        env[self.dst] = host_ops.mean(env[self.src], 1, self.q)[:, None, :]
