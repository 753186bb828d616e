"""An LsmNetwork (rmlora.sw.formats.lsm) to a CompiledModel the runtime deploys and runs.

Two crossbar layers in one layer program (a SpikingSegmentSpec, layout.py):

- the reservoir, [x_t | s_{t-1}] -> the LIF neurons' current: n_in = x_t's inputs padded
  to whole SRAM words, then the neurons (zero weight rows and A columns on the padding,
  so the product and the adapters are the network's); act LIF, spike-mode MVMs (one
  bit plane), one layer pass over the network's steps;
- the readout over the neurons' spike counts (int8 0..steps, eight planes), one vector.

Each adapter of the network is one slot, as compile_model lays out adapters (one SRAM
region per slot, so Chip.delete_adapter zeroes exactly it).

ADC gain shift (the ADC's LSB is 2**gain_shift weight units): the smallest at which
no column of any row tile can clip, whatever the 0/1 drive: max over tiles and
columns of max(sum of the positive weights, -sum of the negative ones) <= adc_max *
2**g. A spike-mode plane drives rows with 0/1, and so does every plane of the counts
(non-negative: sign-magnitude planes are their bits), so the bound holds for both
layers and for every input. With calibration inputs (reservoir inputs [x_t | s_t-1]
and counts), quantize.gain_shift's calibrated bound is taken instead, as compile_model
does: finer steps, inputs beyond the calibration may clip.
"""

import numpy as np
import torch

from rmlora.contract import ChipParams
from rmlora.contract.lora import Activation
from rmlora.contract.macro import MacroConfig
from rmlora.sw.formats.lora import Adapter, Layer
from rmlora.sw.formats.lsm import LsmNetwork
from rmlora.sw.lora import lora_layers
from rmlora.sw.models.lsm import LiquidStateMachine

from .assemble import assemble
from .compiled import ChipLayer, CompiledModel
from .lsm import quantize_lsm
from .placement import place
from .quantize import GAIN_SHIFT_MAX, gain_shift, shift_for_peak
from .spec import SpikingSegmentSpec
from .steps import ChipStep, SpikeInput

__all__ = ["compile_lsm", "compile_lsm_model", "lsm_calibration", "spike_gain_shift",
           "LSM_CHIP", "RESERVOIR", "READOUT"]

RESERVOIR, READOUT = "reservoir", "readout"
# The chip an LSM compiles for unless told: the reservoir takes 8 macros of 128x128 and
# the readout 2, so 16 (the contract's most) rather than the default 4.
LSM_CHIP = ChipParams(n_macros=16)


def spike_gain_shift(w_q: np.ndarray, params: ChipParams, x: np.ndarray | None = None) -> int:
    """The ADC gain shift of weights w_q (n_out, n_in) driven by 0/1 planes: without `x`,
    the smallest no 0/1 input can clip (each tile's column sums of its positive and of
    its negative weights); with `x` (samples, n_in) non-negative inputs, quantize's
    calibrated gain_shift."""
    if x is not None:
        return gain_shift(x, w_q, params)
    w = np.asarray(w_q, dtype=np.int64).T
    peak = 0
    for r0 in range(0, w.shape[0], params.macro_rows):
        tile = w[r0:r0 + params.macro_rows]
        peak = max(peak, int(np.clip(tile, 0, None).sum(axis=0).max(initial=0)),
                   int(-np.clip(tile, None, 0).sum(axis=0).min(initial=0)))
    return shift_for_peak(peak, params)


def _padded(matrix: np.ndarray, inputs: int, pad: int) -> np.ndarray:
    """Columns [x | s] of `matrix` with `pad` zero columns after x's `inputs` columns."""
    zeros = np.zeros((matrix.shape[0], pad), dtype=matrix.dtype)
    return np.concatenate([matrix[:, :inputs], zeros, matrix[:, inputs:]], axis=1)


def _checked_weights(name: str, w: np.ndarray, w_max: int) -> np.ndarray:
    peak = int(np.abs(np.asarray(w, dtype=np.int64)).max(initial=0))
    if peak > w_max:
        raise ValueError(f"layer {name!r}: weight magnitude {peak} > {w_max}, the macro's "
                         f"largest weight (weight_bits)")
    return np.asarray(w, dtype=np.int8)


def compile_lsm(net: LsmNetwork, params: ChipParams, macro_config: MacroConfig | None = None,
                calib: tuple[np.ndarray, np.ndarray] | None = None) -> CompiledModel:
    """The network's chip program. calib: (reservoir inputs (samples, inputs + neurons),
    counts (samples, neurons)), both 0.., to calibrate the ADC gain shifts on; None for
    the shifts no input can clip (the module's docstring)."""
    macro_config = macro_config or MacroConfig.for_chip(params)
    macro_config.check_fits(params)
    wb = params.sram_word_bytes
    x_bytes = -(-net.inputs // wb) * wb  # x_t padded to whole words
    pad = x_bytes - net.inputs
    n_in = x_bytes + net.neurons
    w_res = _checked_weights(RESERVOIR, _padded(net.reservoir_w, net.inputs, pad),
                             macro_config.w_max)
    w_out = _checked_weights(READOUT, net.readout_w, macro_config.w_max)
    x_res, counts = (None, None) if calib is None else (
        _padded(np.asarray(calib[0]), net.inputs, pad), np.asarray(calib[1]))
    shifts = {RESERVOIR: spike_gain_shift(w_res, params, x_res),
              READOUT: spike_gain_shift(w_out, params, counts)}
    for name, shift in shifts.items():
        if shift > min(GAIN_SHIFT_MAX, macro_config.max_gain_shift):
            raise ValueError(f"layer {name!r}: ADC gain shift {shift} exceeds the maximum")
    r = net.reservoir
    reservoir = ChipLayer(
        RESERVOIR, n_in, net.neurons, w_res, (0, 0, 0), shifts[RESERVOIR],
        Layer(n_in, net.neurons, r.out_mult, r.out_shift, Activation.LIF),
        {slot: Adapter(_padded(ad.a, net.inputs, pad), ad.b, ad.q_mult, ad.q_shift,
                       ad.scale_mult) for slot, ad in enumerate(net.adapters.values())},
        dict(net.scales), spikes=1, neuron=dict(net.neuron))
    readout = ChipLayer(READOUT, net.neurons, net.readout.n_out, w_out, (0, 0, 0),
                        shifts[READOUT], net.readout, {}, {"logits": net.scales.get("logits",
                                                                                     1.0)})
    layers = [reservoir, readout]
    placements = place([(x.name, x.n_in, x.n_out) for x in layers], params)
    for layer in layers:
        layer.placement = placements[layer.name]
    spec = SpikingSegmentSpec("lsm", RESERVOIR, READOUT, net.steps, net.inputs)
    return assemble(layers, [spec], params, macro_config,
                    {name: slot for slot, name in enumerate(net.adapters)},
                    [SpikeInput(net.inputs, net.steps, n_in), ChipStep(0)], 1.0,
                    net.scales.get("logits", 1.0))


def lsm_calibration(model: LiquidStateMachine, calib_x: torch.Tensor
                    ) -> tuple[np.ndarray, np.ndarray]:
    """compile_lsm's calib from spike rows: the reservoir's inputs [x_t | s_t-1] at every
    step and the counts, with the model's active adapters."""
    with torch.no_grad():
        spikes = model.spikes(calib_x)  # once, for both
        xf = model.reservoir_inputs(calib_x, spikes).reshape(-1, model.n_in + model.neurons)
        return xf.numpy(), spikes.sum(dim=1).numpy()


def compile_lsm_model(model: LiquidStateMachine, calib_inputs, adapters=None,
                      params: ChipParams | None = None, macro_config: MacroConfig | None = None,
                      scale_free: tuple[str, ...] = ()) -> CompiledModel:
    """A trained LiquidStateMachine (float, with its LoRA adapters) to the chip, as
    compile_model does for the other families: every adapter of the model in a slot
    (name order), or the named ones in list order; quantised (quantize_lsm) and
    calibrated on ``calib_inputs`` (spike rows) with the model's active adapters but
    ``scale_free`` ones, gain shifts calibrated; the chip ``LSM_CHIP`` unless
    ``params`` says otherwise."""
    names = sorted({n for layer in lora_layers(model).values() for n in layer.adapters})
    if adapters is not None:
        if not all(isinstance(a, str) for a in adapters):
            raise ValueError("an LSM takes its adapters by name (PEFT directories are for "
                             "the MLP families)")
        unknown = sorted(set(adapters) - set(names))
        if unknown:
            raise ValueError(f"adapters {unknown} are not on the LSM (it has {names})")
        names = list(adapters)
    unknown = sorted(set(scale_free) - set(names))
    if unknown:
        raise ValueError(f"scale_free adapters {unknown} are not among {names}")
    calib = torch.as_tensor(np.asarray(calib_inputs), dtype=torch.float32)
    layers = lora_layers(model)
    active = {name: list(layer.active_adapters) for name, layer in layers.items()}
    try:  # the scales as without the scale-free adapters
        for name, layer in layers.items():
            layer.set_active([a for a in active[name] if a not in scale_free])
        net = quantize_lsm(model, calib, names)
        calibration = lsm_calibration(model.eval(), calib)
    finally:
        for name, layer in layers.items():
            layer.set_active(active[name])
    return compile_lsm(net, params or LSM_CHIP, macro_config, calib=calibration)
