"""A diffusion transformer's host steps between chip segments (steps.py's kind).

The network is called with the MLP denoiser's input rows (pixels, then the class and
step features). ``ConditionInput`` quantises the pixels into patch tokens and finds
each row's (class, step) in the conditioning table, so the steps after it look their
modulation up by row index (env[COND]); the integer arithmetic is transformer_ops'.
"""

from dataclasses import dataclass

import numpy as np
import torch

from rmlora.sw.models.dit import unpatchify

from . import transformer_ops as ops
from .steps import INPUT, quantize_patches

__all__ = ["COND", "ConditionInput", "AdaLnStep", "AttentionStep", "GatedAddStep",
           "TableAddStep", "UnpatchifyStep"]

COND = "cond"  # (B,) int64: each input's row of the conditioning table
FEATURE_MATCH = 1e-5  # a row's features match a table row within this (float32 inputs)


@dataclass(frozen=True)
class ConditionInput:
    """Pixels (the first `pixels` values of a row) to int8 patch tokens; the rest of the
    row (the class and step features) must be one of `features`' rows, whose index goes
    to env[COND]. A row matching none is refused, naming it: the host table holds the
    conditioning of exactly the (class, step) pairs it was compiled for."""

    scale: float
    image_size: int
    patch_size: int
    features: np.ndarray  # (rows, features) float64, the table's conditioning inputs
    dst: str = "x"

    def apply(self, env: dict):
        x = np.asarray(env[INPUT], dtype=np.float64)
        pixels = self.image_size**2
        if x.ndim != 2 or x.shape[1] != pixels + self.features.shape[1]:
            raise ValueError(f"inputs of shape {x.shape}: the network takes rows of {pixels} "
                             f"pixels and {self.features.shape[1]} conditioning features")
        gap = np.abs(x[:, None, pixels:] - self.features[None]).max(axis=-1)
        rows = gap.argmin(axis=1)
        unmatched = np.flatnonzero(gap[np.arange(len(x)), rows] > FEATURE_MATCH)
        if len(unmatched):
            raise ValueError(f"input {int(unmatched[0])} ({len(unmatched)} in all): its class "
                             f"and step features match no (class, step) pair of the "
                             f"compiled conditioning table ({len(self.features)} pairs)")
        images = x[:, :pixels].reshape(-1, self.image_size, self.image_size)
        env[self.dst] = quantize_patches(images, self.patch_size, self.scale)
        env[COND] = rows.astype(np.int64)


@dataclass(frozen=True)
class AdaLnStep:
    q: ops.AdaLnQ
    src: str = "x"
    dst: str = "n"

    def apply(self, env: dict):
        env[self.dst] = ops.adaln(env[self.src], env[COND], self.q)


@dataclass(frozen=True)
class AttentionStep:
    q: ops.AttentionQ
    src: str = "n"
    dst: str = "n"

    def apply(self, env: dict):
        env[self.dst] = ops.attention(env[self.src], self.q)


@dataclass(frozen=True)
class GatedAddStep:
    q: ops.GatedAddQ
    x: str = "x"
    a: str = "n"
    dst: str = "x"

    def apply(self, env: dict):
        env[self.dst] = ops.gated_add(env[self.x], env[self.a], env[COND], self.q)


@dataclass(frozen=True)
class TableAddStep:
    q: ops.TableAddQ
    src: str = "x"
    dst: str = "x"

    def apply(self, env: dict):
        env[self.dst] = ops.table_add(env[self.src], self.q)


@dataclass(frozen=True)
class UnpatchifyStep:
    """(B, tokens, patch pixels) to (B, 1, pixels) in image order: patchify undone."""

    image_size: int
    patch_size: int
    src: str = "x"
    dst: str = "x"

    def apply(self, env: dict):
        x = torch.from_numpy(np.ascontiguousarray(env[self.src]))
        image = unpatchify(x, self.patch_size, self.image_size // self.patch_size)
        env[self.dst] = np.ascontiguousarray(image.numpy()[:, None, :])
