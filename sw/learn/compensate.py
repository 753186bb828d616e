"""The compensation adapter: a digital LoRA branch that cancels the analogue weights' error.

Hardware in the loop, on the chip's own outputs: the probe program
(rmlora.sw.compiler.probe) reads every layer's effective weights W_eff through the
MVM path of the deployed chip, after programming error, stuck cells and drift.
The error E = W_eff - W_q is what the adapter must cancel. For each layer, B A is
the rank-r matrix that minimises the layer's output error over its inputs x,

    min E_x || (E + B A) x ||^2,   rank(B A) <= r,

solved in closed form (weighted reduced-rank regression): with C = E[x x^T] the
inputs' second moment, B A = -[E C^1/2]_r C^-1/2, where [.]_r keeps the r largest
singular values. A short gradient descent on the same objective reaches the same
minimum; the closed form is exact and instant, which matters over 100s of Monte
Carlo runs. Stuck cells that write-verify gave up on are part of E, so the adapter
maps around them too.

The adapter is compiled with the nominal scales (compile_model's scale_free), so
only the SRAM changes; the crossbars are never rewritten.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from rmlora.contract.lora import LORA_MAX_RANK
from rmlora.sw.compiler import CompiledModel, compile_model
from rmlora.sw.compiler.probe import (
    ProbeProgram,
    probe_inputs,
    probe_outputs,
    probe_runs,
    weights_from_probe,
)
from rmlora.sw.lora import lora_layers
from rmlora.sw.lora.model import wrap_linear
from rmlora.sw.runtime import Chip

__all__ = ["COMPENSATION", "PROBE_REPEATS", "add_compensation_slot", "measure_weights",
           "layer_moments", "fit_compensation", "compile_restored", "compile_compensated"]

COMPENSATION = "compensation"
# Reads per weight: read noise is 1 % of G per conversion (~2-3 weight units at the
# top of the window); 16 reads bring the mean to ~0.7 units, below the write-verify
# residual (+-1 uS = +-4 units) the adapter also cancels.
PROBE_REPEATS = 16
RIDGE = 1e-3  # of the mean input power, added to C: directions the data never excites


def _rank(n_in: int, n_out: int, rank: int | None) -> int:
    return min(n_in, n_out, LORA_MAX_RANK if rank is None else rank)


def add_compensation_slot(model: nn.Module, layers: list[str], rank: int | None = None
                          ) -> nn.Module:
    """A copy of ``model`` with an all-zero compensation adapter on ``layers`` (each at
    rank min(n_in, n_out, rank or LORA_MAX_RANK), alpha = rank, so scaling 1). Compiled
    once, it reserves the slot; a zero B adds nothing."""
    model = copy.deepcopy(model)
    for name in layers:
        layer = wrap_linear(model, name)
        r = _rank(layer.in_features, layer.out_features, rank)
        layer.add_adapter(COMPENSATION, r, float(r), activate=False)
    return model


def measure_weights(chip: Chip, compiled: CompiledModel, probe: ProbeProgram,
                    repeats: int = PROBE_REPEATS) -> dict[str, np.ndarray]:
    """Every layer's effective weights (n_out, n_in), in weight units, read through the
    chip's MVMs; the network's image is loaded again afterwards (adapters disabled)."""
    chip.enable([])
    measured = {}
    for layer in compiled.layers:
        chip.load(probe.images[layer.name])
        segment = probe.segments[layer.name]
        x = probe_runs(probe_inputs(layer.n_in, repeats), len(segment.inputs))
        y, _ = chip.run(segment, x)
        measured[layer.name] = weights_from_probe(probe_outputs(y, repeats, layer.n_in))
    chip.load(compiled.image, names=compiled.adapter_slots)
    return measured


def layer_moments(model: nn.Module, layers: list[str], inputs: torch.Tensor
                  ) -> dict[str, np.ndarray]:
    """Second moment E[x x^T] (n_in, n_in) of each layer's float input over ``inputs``,
    adapters off: what the compensation is weighted by."""
    modules, store, handles = dict(model.named_modules()), {}, []
    for name in layers:
        def hook(_m, args, _out, name=name):
            x = args[0].detach().double().reshape(-1, args[0].shape[-1]).numpy()
            store[name] = x.T @ x / len(x)
        handles.append(modules[name].register_forward_hook(hook))
    active = {n: list(layer.active_adapters) for n, layer in lora_layers(model).items()}
    try:
        for layer in lora_layers(model).values():
            layer.set_active([])
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
        for n, names in active.items():
            lora_layers(model)[n].set_active(names)
    return store


def _reduced_rank(error: np.ndarray, moment: np.ndarray, rank: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(B, A) with B A = -[E C^1/2]_r C^-1/2, the split balanced (sqrt of the singular
    values on each side) so that both quantise to int8 alike."""
    c = moment + RIDGE * np.trace(moment) / len(moment) * np.eye(len(moment))
    s, u = np.linalg.eigh(c)
    root, inv_root = (u * np.sqrt(s)) @ u.T, (u / np.sqrt(s)) @ u.T
    p, sv, qt = np.linalg.svd(error @ root, full_matrices=False)
    half = np.sqrt(sv[:rank])
    return -p[:, :rank] * half, (half[:, None] * qt[:rank]) @ inv_root


def _output_error(error: np.ndarray, moment: np.ndarray) -> float:
    """sqrt(E_x ||error x||^2)."""
    return float(np.sqrt(max(np.trace(error @ moment @ error.T), 0.0)))


def fit_compensation(model: nn.Module, compiled: CompiledModel, measured: dict[str, np.ndarray],
                     moments: dict[str, np.ndarray]) -> tuple[nn.Module, dict]:
    """A copy of ``model`` (which has the compensation slot) whose compensation adapter
    cancels measured - w_q on every layer; and per layer the measured weight error's
    RMS (weight units) and the output error left, relative to the uncompensated one
    (in float, over the inputs ``moments`` came from)."""
    model = copy.deepcopy(model)
    layers, stats = lora_layers(model), {}
    for chip_layer in compiled.layers:
        layer, moment = layers[chip_layer.name], moments[chip_layer.name]
        units = measured[chip_layer.name] - chip_layer.w_q
        error = units * chip_layer.scales["w"]
        b, a = _reduced_rank(error, moment, layer.r[COMPENSATION])
        dtype = layer.lora_A[COMPENSATION].weight.dtype
        with torch.no_grad():
            layer.lora_A[COMPENSATION].weight.copy_(torch.from_numpy(a).to(dtype))
            layer.lora_B[COMPENSATION].weight.copy_(torch.from_numpy(b).to(dtype))
        before = _output_error(error, moment)
        stats[chip_layer.name] = {
            "weight_error_rms": float(np.sqrt(np.mean(units ** 2))),
            "output_error_left": _output_error(error + b @ a, moment) / before if before
            else 0.0}
    return model, stats


def compile_restored(model: nn.Module, calib: np.ndarray, deployed: CompiledModel,
                     scale_free: tuple[str, ...] = ()) -> CompiledModel:
    """Compile ``model`` (nominal weights, the compensation and any other adapters) at
    the deployed network's chip parameters, reads per plane and scales free of the
    compensation and of ``scale_free`` (compile_model's); refuses (ValueError) if a
    crossbar weight differs from the programmed ones. Adapter slots may differ: they
    live in SRAM."""
    compiled = compile_model(model, calib, params=deployed.params,
                             macro_config=deployed.macro_config,
                             scale_free=(COMPENSATION, *scale_free),
                             reads={layer.name: layer.reads_asked for layer in deployed.layers})
    same = len(compiled.plan) == len(deployed.plan) and all(
        np.array_equal(a, b) for (_, a), (_, b) in zip(compiled.plan, deployed.plan,
                                                       strict=True))
    if not same:
        raise ValueError("the network's crossbar weights differ from the programmed ones; "
                         "it would need reprogramming")
    return compiled


def compile_compensated(model: nn.Module, calib: np.ndarray, deployed: CompiledModel
                        ) -> CompiledModel:
    """``compile_restored`` into the deployed network's own adapter slots (the
    compensation fills its reserved slot; ValueError if the slots differ)."""
    compiled = compile_restored(model, calib, deployed)
    if compiled.adapter_slots != deployed.adapter_slots:
        raise ValueError(f"adapter slots {compiled.adapter_slots} differ from the deployed "
                         f"{deployed.adapter_slots}")
    return compiled
