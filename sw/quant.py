"""Fixed-point helpers for compiling float models to the chip's integer arithmetic.

The chip scales with (multiplier, shift) pairs (rmlora.contract.lora): a real
factor f is carried as mult / 2**shift with a signed 16-bit mult. These helpers
find such pairs, quantise weights and activations symmetrically to int8, and
calibrate activation ranges from data. They run once, at compile time, in float;
everything at run time is integer.
"""

import math

import numpy as np

__all__ = ["MULT_BITS", "quantize_multiplier", "multiplier_value", "symmetric_scale",
           "quantize", "calibrate_scale"]

MULT_BITS = 16  # signed multipliers of the LoRA unit (out_mult, q_mult, scale_mult)
MAX_SHIFT = 63


def quantize_multiplier(real: float, bits: int = MULT_BITS) -> tuple[int, int]:
    """(mult, shift) with real ~ mult / 2**shift, |mult| < 2**(bits-1), 0 <= shift <= 63.

    The mantissa is normalised to [2**(bits-2), 2**(bits-1)), so the relative error
    is at most 2**-(bits-1) (rounding to nearest); a factor too large for a right
    shift (>= 2**(bits-2)) is refused, one too small for shift 63 becomes (0, 0)."""
    if not math.isfinite(real):
        raise ValueError(f"multiplier {real} is not finite")
    if real == 0.0:
        return 0, 0
    magnitude = abs(real)
    exponent = math.floor(math.log2(magnitude))
    shift = bits - 2 - exponent
    if shift < 0:
        raise ValueError(f"multiplier {real} too large for a {bits}-bit mult and a right shift")
    if shift > MAX_SHIFT:
        return 0, 0
    mult = round(magnitude * 2.0**shift)
    if mult == 1 << (bits - 1):  # rounding carried into the next power of two
        mult, shift = mult >> 1, shift - 1
    return (mult if real > 0 else -mult), shift


def multiplier_value(mult: int, shift: int) -> float:
    return mult / 2.0**shift


def symmetric_scale(x: np.ndarray, axis: int | None = None, bits: int = 8) -> np.ndarray | float:
    """max|x| / (2**(bits-1) - 1), per slice along `axis` (per channel) or per tensor;
    an all-zero slice gets scale 1 so that it quantises to zeros, not NaN."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantise NaN or infinite values")
    qmax = (1 << (bits - 1)) - 1
    if axis is None:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        return peak / qmax if peak > 0 else 1.0
    peak = np.max(np.abs(x), axis=tuple(i for i in range(x.ndim) if i != axis % x.ndim))
    return np.where(peak > 0, peak / qmax, 1.0)


def quantize(x: np.ndarray, scale, bits: int = 8) -> np.ndarray:
    """round(x / scale) clamped to the symmetric int range (round half to even: offline,
    in float; the chip's own rounding is the contract's round half up)."""
    qmax = (1 << (bits - 1)) - 1
    q = np.clip(np.rint(np.asarray(x, dtype=np.float64) / scale), -qmax - 1, qmax)
    return q.astype(np.int8 if bits <= 8 else np.int32)


def calibrate_scale(samples: np.ndarray, percentile: float = 99.99, bits: int = 8) -> float:
    """Activation scale from data: the given percentile of |x| maps to the int8 maximum,
    so that rare outliers saturate instead of costing every value resolution."""
    samples = np.abs(np.asarray(samples, dtype=np.float64)).ravel()
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        raise ValueError("calibration needs finite samples")
    peak = float(np.percentile(samples, percentile))
    return peak / ((1 << (bits - 1)) - 1) if peak > 0 else 1.0
