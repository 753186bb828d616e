"""compile_model: a PyTorch model and its named adapters to a deployable chip program.

Everything is checked before anything is built, so a refused model returns
nothing half-made: the ValueError names the layer, adapter or limit at fault.
"""

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmlora.contract import ChipParams
from rmlora.contract.lora import LORA_MAX_FEATURES, LORA_MAX_RANK, LORA_SLOTS
from rmlora.contract.macro import MacroConfig
from rmlora.contract.xbar import READS_PER_PLANE
from rmlora.sw.lora import adapter_names, delete_adapter, load_adapter, lora_layers
from rmlora.sw.models.lsm import LiquidStateMachine

from . import dit, mixer, mlp  # noqa: F401  (they register the built-in front ends)
from .assemble import assemble
from .compiled import CompiledModel
from .front_end import front_end_for
from .placement import place
from .quantize import quantize_layer
from .spec import LayerSpec, base_linear, float_adapter, float_weight

__all__ = ["compile_model", "default_macro_config", "chip_layer_names", "assemble"]


def default_macro_config(params: ChipParams) -> MacroConfig:
    return MacroConfig.for_chip(params)


def chip_layer_names(model: nn.Module) -> list[str]:
    """The modules the chip runs as crossbar layers, in network order."""
    return [spec.name for spec in front_end_for(model).structure(model)[0]]


def _prepare(model: nn.Module, adapters) -> tuple[nn.Module, list[str]]:
    """A private copy of the model holding exactly the adapters to compile, in slot order."""
    for name, layer in lora_layers(model).items():
        if layer.merged_adapters:
            raise ValueError(f"layer {name!r}: adapters {layer.merged_adapters} are merged "
                             f"into the base weight; unmerge them before compiling")
    model = copy.deepcopy(model).eval()
    if adapters is None:
        names = sorted(adapter_names(model))
    else:
        for name in adapter_names(model):
            delete_adapter(model, name)
        names = []
        for item in adapters:
            name, directory = item if isinstance(item, tuple) else (Path(item).name, item)
            load_adapter(model, directory, name)
            names.append(name)
    if len(names) > LORA_SLOTS:
        raise ValueError(f"{len(names)} adapters {names}: the chip has {LORA_SLOTS} slots")
    return model, names


def _check(spec: LayerSpec, names: list[str]):
    if base_linear(spec.module).bias is not None:
        raise ValueError(f"layer {spec.name!r} has a bias; the chip's layers have none")
    w = float_weight(spec.module)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"layer {spec.name!r}: weights contain NaN or inf")
    n_out, n_in = w.shape
    if max(n_in, n_out) > LORA_MAX_FEATURES:
        raise ValueError(f"layer {spec.name!r} is too large: {n_in} inputs x {n_out} outputs, "
                         f"the LoRA unit takes at most {LORA_MAX_FEATURES}")
    for name in names:
        found = float_adapter(spec.module, name)
        if found is None:
            continue
        a, b, _ = found
        rank = a.shape[0]
        what = f"adapter {name!r} on layer {spec.name!r}"
        if not 1 <= rank <= LORA_MAX_RANK:
            raise ValueError(f"{what}: rank {rank} outside 1..{LORA_MAX_RANK}")
        if a.shape != (rank, n_in) or b.shape != (n_out, rank):
            raise ValueError(f"{what}: A {a.shape} and B {b.shape} do not match the layer "
                             f"({n_in} inputs, {n_out} outputs, rank {rank})")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError(f"{what}: A or B contains NaN or inf")


def _check_reads_number(name: str, n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n not in READS_PER_PLANE:
        raise ValueError(f"layer {name!r}: reads={n!r} per bit plane must be one of "
                         f"{READS_PER_PLANE} (a power of two, at most {READS_PER_PLANE[-1]})")


def check_reads(reads: int | dict[str, int]) -> int | dict[str, int]:
    """compile_model's `reads`, its numbers checked (ValueError naming the bad one);
    a task checks its own with this before it trains. Layer names are checked when the
    model is compiled."""
    for name, n in (reads.items() if isinstance(reads, dict) else [("every layer", reads)]):
        _check_reads_number(name, n)
    return reads


def _reads_per_layer(reads: int | dict[str, int], names: list[str]) -> dict[str, int]:
    """Layer -> MVM reads per bit plane, from compile_model's `reads` (one number for
    every layer, or layer name -> reads with the rest at 1), each checked."""
    if isinstance(reads, dict):
        unknown = sorted(set(reads) - set(names))
        if unknown:
            raise ValueError(f"reads names layers {unknown} the model does not have; its chip "
                             f"layers are {names}")
        per_layer = {name: reads.get(name, 1) for name in names}
    else:
        per_layer = dict.fromkeys(names, reads)
    for name, n in per_layer.items():
        _check_reads_number(name, n)
    return per_layer


def compile_model(model: nn.Module, calib_inputs, adapters=None, params: ChipParams | None = None,
                  macro_config: MacroConfig | None = None,
                  scale_free: tuple[str, ...] = (),
                  reads: int | dict[str, int] = 1) -> CompiledModel:
    """Compile an nn.Sequential MLP, a FaceMixer, a TinyDiT or a LiquidStateMachine (its
    own compiler, lsm_chip.compile_lsm_model; params None: each family's chip).

    adapters: None to take every adapter of the model's LoraLinear layers (slots in
    name order), or a list of PEFT adapter directories (named after the directory,
    or given as (name, directory) pairs), slots in list order, replacing the model's.
    calib_inputs: float inputs the scales are calibrated on (B, n_in) or (B, 16, 16);
    a TinyDiT's are denoiser input rows (B, 82) of its config's (class, step) pairs.
    scale_free: adapters left out of the activation ranges the scales cover (a
    compensation adapter restores the nominal ranges on the chip, while in float it
    would move them), so compiling with or without them gives the same scales.
    reads: MVM conversions per input bit plane, averaged (1, 2, 4 or 8), for every
    layer or as layer name -> reads (missing layers 1): n reads divide the read
    noise's std by sqrt(n) at n times the layer's MVM time and conversion energy. A
    layer gets at most 2**gain_shift (the mean is a shift of the sum); ChipLayer's
    reads_asked and reads_clamped say when it got fewer."""
    if isinstance(model, LiquidStateMachine):  # LIF layers: no per-layer front end
        if set(reads.values() if isinstance(reads, dict) else [reads]) - {1}:
            raise ValueError(f"reads={reads}: an LSM compiles with one read per plane")
        from .lsm_chip import compile_lsm_model
        return compile_lsm_model(model, calib_inputs, adapters, params, macro_config,
                                 scale_free)
    params = params or ChipParams()
    macro_config = macro_config or default_macro_config(params)
    macro_config.check_fits(params)
    if macro_config.weight_bits > 8:
        raise ValueError(f"macro_config.weight_bits={macro_config.weight_bits}: weights are int8")
    front = front_end_for(model)
    model, names = _prepare(model, adapters)
    specs, segment_specs = front.structure(model)
    for spec in specs:
        _check(spec, names)
    reads_for = _reads_per_layer(reads, [spec.name for spec in specs])
    placements = place([(s.name, s.module.in_features, s.module.out_features) for s in specs],
                       params)
    dtype = next(model.parameters()).dtype
    inputs = torch.as_tensor(np.asarray(calib_inputs), dtype=dtype)
    unknown = set(scale_free) - set(names)
    if unknown:
        raise ValueError(f"scale_free adapters {sorted(unknown)} are not among {names}")
    cal = front.calibrate(model, specs, inputs, [n for n in names if n not in scale_free])
    slots = dict(enumerate(names))
    layers = []
    for spec in specs:
        layer = quantize_layer(spec, slots, cal.x[spec.name], cal.in_scale[spec.name],
                               cal.out_scale[spec.name], params, macro_config)
        layer.placement = placements[spec.name]
        layer.reads_asked = reads_for[spec.name]
        layer.reads_log2 = min(layer.reads_asked.bit_length() - 1, layer.gain_shift)
        layers.append(layer)
    return assemble(layers, segment_specs, params, macro_config,
                     {name: slot for slot, name in slots.items()}, cal.steps,
                     cal.input_scale, cal.output_scale)
