"""The integer operations the host runs between chip layers: their definition.

The chip computes the layers' matrix products (and their requantisation and
activation); normalisations, residual adds and pooling run on the host. They run
here in exact integer arithmetic on int8 tensors, from constants compiled once
in float (`compile_*`), so a whole network is deterministic end to end and the
runtime, the golden model and the tests share one definition. Rounding is the
chip's: round half up.
"""

import math
from dataclasses import dataclass

import numpy as np

from rmlora.contract.lora import LUT_ENTRIES
from rmlora.sw.quant import MULT_BITS, quantize_multiplier

__all__ = ["round_div", "shift_round", "saturate", "clamp8", "common_multipliers", "isqrt",
           "RmsNormQ", "compile_rmsnorm", "rmsnorm", "AddQ", "compile_add", "add", "MeanQ",
           "compile_mean", "mean", "gelu_lut"]

RMS_FRAC_BITS = 8  # fractional bits of the integer RMS


def round_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """round_half_up(num / den) for int64 arrays with den > 0."""
    return np.floor_divide(2 * num + den, 2 * den)


def isqrt(v: np.ndarray) -> np.ndarray:
    """floor(sqrt(v)) for int64 arrays 0 <= v < 2**52, exact."""
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r -= (r * r > v).astype(np.int64)
    r += ((r + 1) * (r + 1) <= v).astype(np.int64)
    return r


def saturate(v: np.ndarray, dtype) -> np.ndarray:
    """v clipped to the integer dtype's range and cast to it (saturate, never wrap)."""
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


def clamp8(v: np.ndarray) -> np.ndarray:
    return saturate(v, np.int8)


def shift_round(v: np.ndarray, shift: int) -> np.ndarray:
    """round_half_up(v / 2**shift) for int64 arrays, shift >= 0."""
    return (v + (1 << (shift - 1))) >> shift if shift else v


def common_multipliers(reals, bits: int = MULT_BITS) -> tuple[np.ndarray, int]:
    """Integer multipliers of ``bits`` bits sharing one shift: the largest |real| sets
    the shift."""
    reals = np.asarray(reals, dtype=np.float64)
    peak = float(np.max(np.abs(reals)))
    _, shift = quantize_multiplier(peak, bits)
    return np.rint(reals * 2.0**shift).astype(np.int64), shift


@dataclass(frozen=True)
class RmsNormQ:
    gamma_mult: np.ndarray  # (C,) int64: gamma_i / out_scale = gamma_mult_i / 2**shift
    shift: int
    eps_fixed: int  # eps in (x_q units)**2, times 2**(2 * RMS_FRAC_BITS)


def compile_rmsnorm(gamma: np.ndarray, in_scale: float, out_scale: float,
                    eps: float) -> RmsNormQ:
    mult, shift = common_multipliers(np.asarray(gamma, dtype=np.float64) / out_scale)
    eps_fixed = round(eps / in_scale**2 * 2.0 ** (2 * RMS_FRAC_BITS))
    return RmsNormQ(mult, shift, max(1, eps_fixed))


def rmsnorm(x_q: np.ndarray, q: RmsNormQ) -> np.ndarray:
    """y = x / sqrt(mean(x**2) + eps) * gamma over the last axis, on int8 x.

    rms = isqrt(mean(x_q**2) * 2**(2F) + eps) is the RMS with F fractional bits, and
    y_q = round(x_q * gamma_mult * 2**F / (rms * 2**shift)): one rounding."""
    x = np.asarray(x_q, dtype=np.int64)
    channels = x.shape[-1]
    ss = np.sum(x * x, axis=-1, keepdims=True)
    rms = isqrt((ss << (2 * RMS_FRAC_BITS)) // channels + q.eps_fixed)
    num = (x * q.gamma_mult) << RMS_FRAC_BITS
    return clamp8(round_div(num, rms << q.shift))


@dataclass(frozen=True)
class AddQ:
    mult_a: int
    mult_b: int
    shift: int


def compile_add(a_scale: float, b_scale: float, out_scale: float) -> AddQ:
    (ma, mb), shift = common_multipliers([a_scale / out_scale, b_scale / out_scale])
    return AddQ(int(ma), int(mb), shift)


def add(a_q: np.ndarray, b_q: np.ndarray, q: AddQ) -> np.ndarray:
    """Residual add of two int8 tensors with their own scales."""
    v = np.asarray(a_q, dtype=np.int64) * q.mult_a + np.asarray(b_q, dtype=np.int64) * q.mult_b
    return clamp8(shift_round(v, q.shift))


@dataclass(frozen=True)
class MeanQ:
    mult: int
    shift: int


def compile_mean(count: int, in_scale: float, out_scale: float) -> MeanQ:
    mult, shift = quantize_multiplier(in_scale / (count * out_scale))
    return MeanQ(mult, shift)


def mean(x_q: np.ndarray, axis: int, q: MeanQ) -> np.ndarray:
    v = np.sum(np.asarray(x_q, dtype=np.int64), axis=axis) * q.mult
    return clamp8(shift_round(v, q.shift))


def gelu_lut(in_scale: float, out_scale: float) -> np.ndarray:
    """The LoRA unit's LUT_ENTRIES-entry table for GELU (erf form, as torch's nn.GELU):
    entry t is the int8 output for the int8 input t - 128. Computed once, in float,
    and shipped in the SRAM image, so it is data, not arithmetic, at run time."""
    table = np.empty(LUT_ENTRIES, dtype=np.int8)
    for t in range(LUT_ENTRIES):
        x = (t - 128) * in_scale
        y = 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
        table[t] = max(-128, min(127, math.floor(y / out_scale + 0.5)))
    return table
