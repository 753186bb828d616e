"""A trained LiquidStateMachine to the chip's integers (rmlora.sw.formats.lsm).

The model's neuron codes are already the chip's (the network trained with them), so
what is quantised here is what the crossbars and the LoRA unit hold:

- [W_in W_rec]: one int8 matrix, one scale s_w for both (the layer has one out_mult);
  out_mult / 2**out_shift ~ s_w / lsb turns the crossbar's product into current codes
  (lsb = V_TH / v_th volts per code).
- each adapter: the published pair, one on W_in (A_in r x n_in, B_in) and one on W_rec,
  is one adapter of the fused layer, exactly equal in float:

      A = [[A_in, 0], [0, A_rec]]   (2r x (n_in + neurons), block diagonal)
      B = [B_in  B_rec]             (neurons x 2r)
      s B A [x; s'] = s B_in A_in x + s B_rec A_rec s'

  (same alpha / r = s on both), rank 16 for the published rank 8: one LoRA slot per
  adapter. A, B and A's output q are int8, one scale each (the unit's format); q's
  scale is calibrated on the layer's inputs like every compiled layer's
  (quant.calibrate_scale, 99.99th percentile).
- the readout: int8 weights over the counts (0..T, the mean count times T), its int8
  logits scaled to the calibration logits' 99.99th percentile.
"""

from __future__ import annotations

import numpy as np
import torch

from rmlora.contract.lora import LORA_MAX_FEATURES, LORA_MAX_RANK, LORA_SLOTS, Activation
from rmlora.sw import quant
from rmlora.sw.formats.lora import Adapter, Layer
from rmlora.sw.formats.lsm import LsmNetwork
from rmlora.sw.models.lsm import LiquidStateMachine

from .quantize import shared_shift
from .spec import float_adapter, float_weight

__all__ = ["fused_adapter", "quantize_lsm"]


def fused_adapter(model: LiquidStateMachine, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(A, B, alpha / r) of adapter ``name`` on the fused layer [W_in W_rec] (float64);
    a part absent from one of the two layers is left out of the block diagonal."""
    parts = [(cols, float_adapter(layer, name)) for cols, layer in
             ((model.n_in, model.w_in), (model.neurons, model.w_rec))]
    found = [(cols, part) for cols, part in parts if part is not None]
    if not found:
        raise KeyError(f"adapter {name!r} is on neither w_in nor w_rec")
    scalings = {part[2] for _, part in found}
    if len(scalings) != 1:
        raise ValueError(f"adapter {name!r}: alpha / r differs between w_in and w_rec "
                         f"({sorted(scalings)}); the fused adapter has one scaling")
    rank = sum(part[0].shape[0] for _, part in found)
    a = np.zeros((rank, model.n_in + model.neurons))
    row, col, blocks_b = 0, 0, []
    for cols, part in parts:
        if part is not None:
            r = part[0].shape[0]
            a[row:row + r, col:col + cols] = part[0]
            blocks_b.append(part[1])
            row += r
        col += cols
    return a, np.concatenate(blocks_b, axis=1), scalings.pop()


def quantize_lsm(model: LiquidStateMachine, calib_x: torch.Tensor,
                 adapters: list[str] = ()) -> LsmNetwork:
    """The integers of ``model`` with the named adapters in slots 0, 1, ... The scales of
    the LoRA branch's q and of the logits come from ``calib_x`` (spike rows), run with
    every adapter of the model on, as the network with all its adapters is compiled."""
    if model.neuron is None:
        raise ValueError("a float-neuron LSM has no integer form: give it NeuronCodes")
    fused_in = model.n_in + model.neurons
    if fused_in > LORA_MAX_FEATURES:
        raise ValueError(f"reservoir layer: {model.n_in} inputs + {model.neurons} neurons = "
                         f"{fused_in} > {LORA_MAX_FEATURES}, the LoRA unit's maximum")
    if len(adapters) > LORA_SLOTS:
        raise ValueError(f"{len(adapters)} adapters: the chip has {LORA_SLOTS} slots")
    model = model.eval()
    lsb = model.current_lsb
    w = np.concatenate([float_weight(model.w_in), float_weight(model.w_rec)], axis=1)
    s_w = float(quant.symmetric_scale(w))
    w_q = quant.quantize(w, s_w)
    xf = model.reservoir_inputs(calib_x).reshape(-1, fused_in).double().numpy()
    scales = {"w": s_w, "current": lsb}
    reals, parts = [s_w / lsb], {}
    for name in adapters:
        a, b, scaling = fused_adapter(model, name)
        if a.shape[0] > LORA_MAX_RANK:
            raise ValueError(f"adapter {name!r}: fused rank {a.shape[0]} > {LORA_MAX_RANK}")
        s_a, s_b = float(quant.symmetric_scale(a)), float(quant.symmetric_scale(b))
        s_q = quant.calibrate_scale(xf @ a.T)
        (q_mult,), q_shift = shared_shift([s_a / s_q], f"adapter {name!r} q_mult")
        parts[name] = (quant.quantize(a, s_a), quant.quantize(b, s_b), q_mult, q_shift)
        reals.append(scaling * s_b * s_q / lsb if np.any(b) else 0.0)
        scales.update({f"{name}.a": s_a, f"{name}.b": s_b, f"{name}.q": s_q})
    mults, out_shift = shared_shift(reals, "reservoir out_mult/scale_mult")
    fused = {name: Adapter(a_q, b_q, q_mult, q_shift, mult) for (name, (a_q, b_q, q_mult,
             q_shift)), mult in zip(parts.items(), mults[1:], strict=True)}

    w_r = float_weight(model.readout)
    s_r = float(quant.symmetric_scale(w_r))
    with torch.no_grad():
        s_y = quant.calibrate_scale(model(calib_x).double().numpy())
    (r_mult,), r_shift = shared_shift([s_r / (model.steps * s_y)], "readout out_mult")
    scales.update({"readout.w": s_r, "logits": s_y})
    return LsmNetwork(
        inputs=model.n_in, steps=model.steps,
        reservoir=Layer(fused_in, model.neurons, mults[0], out_shift, Activation.IDENTITY),
        reservoir_w=w_q, adapters=fused, neuron=model.neuron.desc(),
        readout=Layer(model.neurons, w_r.shape[0], r_mult, r_shift, Activation.IDENTITY),
        readout_w=quant.quantize(w_r, s_r), scales=scales)
