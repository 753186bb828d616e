"""One layer to integers: int8 weights, ADC gain, the LoRA unit's multipliers.

Weights are quantised per tensor (one scale per layer): the LoRA unit has a single
out_mult per layer, so per-channel weight scales could not be undone after the
crossbar. Adapters' A and B are per-tensor symmetric int8 too.
"""

import math

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.lora import Activation
from rmlora.contract.macro import MacroConfig
from rmlora.contract.xbar import INPUT_BITS
from rmlora.sw import quant
from rmlora.sw.formats.lora import Adapter, Layer

from .compiled import ChipLayer
from .host_ops import gelu_lut
from .spec import LayerSpec, float_adapter, float_weight

__all__ = ["shared_shift", "gain_shift", "shift_for_peak", "quantize_layer", "MAX_SHIFT",
           "GAIN_SHIFT_MAX"]

MAX_SHIFT = 62  # the unit's rounding constant 2**(shift-1) stays below 2**62 (contract.lora)
GAIN_SHIFT_MAX = 15  # the crossbar descriptor's 4-bit gain_shift field
_ACT = {"identity": Activation.IDENTITY, "relu": Activation.RELU, "gelu": Activation.LUT}


def shared_shift(reals: list[float], what: str) -> tuple[list[int], int]:
    """Signed 16-bit multipliers sharing one right shift, mult = round(real * 2**shift),
    with the largest shift for which every |mult| <= 32767 (the most precision)."""
    limit = (1 << (quant.MULT_BITS - 1)) - 1
    peak = max(abs(r) for r in reals)
    if not math.isfinite(peak):
        raise ValueError(f"{what}: multiplier {peak} is not finite")
    if peak == 0.0:
        return [0] * len(reals), 0
    shift = min(MAX_SHIFT, math.floor(math.log2(limit / peak)))
    while shift >= 0 and round(peak * 2.0**shift) > limit:
        shift -= 1
    if shift < 0:
        raise ValueError(f"{what}: multiplier {peak} is too large for a 16-bit mult and a "
                         f"right shift")
    return [round(r * 2.0**shift) for r in reals], shift


def gain_shift(x_q: np.ndarray, w_q: np.ndarray, params: ChipParams) -> int:
    """Smallest ADC gain shift at which no column of any input bit plane of the
    calibration inputs clips: max |sum_i plane_i w_ij| <= adc_max * 2**g, per row tile
    (each macro converts its own rows). Planes are sign-magnitude (contract.xbar): row
    i carries sign(x_i) * bit k of |x_i|. Inputs beyond the calibration range may clip.

    Allowing rare clipping for a finer ADC step was tried on the trained face Mixer:
    one or two shifts less changed nothing or cost agreement with the exact integer
    network (0.91 -> 0.89 -> 0.79), because programming error, not the ADC step,
    dominates the analogue error."""
    x = np.asarray(x_q, dtype=np.int64).reshape(-1, w_q.shape[1])
    magnitude, sign = np.abs(x), np.sign(x)
    planes = np.concatenate([sign * ((magnitude >> k) & 1) for k in range(INPUT_BITS)])
    block = w_q.T.astype(np.float64)  # exact: |sums| < 2**53
    peak = 0
    for r0 in range(0, block.shape[0], params.macro_rows):
        rows = slice(r0, r0 + params.macro_rows)
        sums = planes[:, rows].astype(np.float64) @ block[rows]
        peak = max(peak, int(np.abs(sums).max(initial=0)))
    return shift_for_peak(peak, params)


def shift_for_peak(peak: int, params: ChipParams) -> int:
    """The smallest ADC gain shift g at which a column sum of magnitude `peak` does not
    clip: peak <= adc_max * 2**g."""
    adc_max = (1 << (params.adc_bits - 1)) - 1
    shift = 0
    while peak > adc_max << shift:
        shift += 1
    return shift


def quantize_layer(spec: LayerSpec, slots: dict[int, str], x: np.ndarray, in_scale: float,
                   out_scales: tuple[float, float], params: ChipParams,
                   macro_config: MacroConfig) -> ChipLayer:
    """The layer's integers; `slots` maps slot -> adapter name, `x` holds float inputs
    of the calibration data (samples, n_in). Placement is filled in later."""
    w = float_weight(spec.module)
    n_out, n_in = w.shape
    s_w = float(quant.symmetric_scale(w, bits=macro_config.weight_bits))
    w_max = macro_config.w_max
    w_q = np.clip(quant.quantize(w, s_w), -w_max, w_max).astype(np.int8)
    s_y, s_out = out_scales
    scales = {"x": in_scale, "w": s_w, "y": s_y, "out": s_out}
    reals = [in_scale * s_w / s_y]
    parts = {}
    for slot, name in sorted(slots.items()):
        found = float_adapter(spec.module, name)
        if found is None:
            continue
        a, b, scaling = found
        s_a, s_b = float(quant.symmetric_scale(a)), float(quant.symmetric_scale(b))
        s_q = quant.calibrate_scale(x @ a.T)
        (q_mult,), q_shift = shared_shift([in_scale * s_a / s_q], f"layer {spec.name!r} "
                                          f"adapter {name!r} q_mult")
        parts[slot] = (quant.quantize(a, s_a), quant.quantize(b, s_b), q_mult, q_shift)
        # An all-zero B (a fresh adapter) adds nothing: its scale_mult must not cost
        # out_mult precision through the shared shift.
        reals.append(scaling * s_b * s_q / s_y if np.any(b) else 0.0)
        scales.update({f"{name}.a": s_a, f"{name}.b": s_b, f"{name}.q": s_q})
    mults, out_shift = shared_shift(reals, f"layer {spec.name!r} out_mult/scale_mult")
    adapters = {slot: Adapter(a_q, b_q, q_mult, q_shift, mult)
                for (slot, (a_q, b_q, q_mult, q_shift)), mult in zip(parts.items(), mults[1:],
                                                                     strict=True)}
    act = _ACT[spec.act]
    lut = gelu_lut(s_y, s_out) if act is Activation.LUT else None
    layer = Layer(n_in, n_out, mults[0], out_shift, act, lut)
    x_q = quant.quantize(x, in_scale)
    shift = gain_shift(x_q, w_q, params)
    if shift > min(GAIN_SHIFT_MAX, macro_config.max_gain_shift):
        raise ValueError(f"layer {spec.name!r}: ADC gain shift {shift} exceeds the maximum")
    return ChipLayer(spec.name, n_in, n_out, w_q, (0, 0, 0), shift, layer, adapters, scales)
