"""Placed, quantised chip layers to a CompiledModel: what every front end ends with
(compile_model for the MLP families, compile_lsm for the LSM)."""

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig

from .compiled import CompiledModel
from .layout import lay_out
from .placement import program_plan

__all__ = ["assemble"]


def assemble(layers: list, specs: list, params: ChipParams, macro_config: MacroConfig,
             adapter_slots: dict[str, int], steps: list, input_scale: float,
             output_scale: float) -> CompiledModel:
    """The placed, quantised chip layers to a CompiledModel: their write-verify plan and
    the SRAM image of the segments `specs`, with the runtime's scratch after it (room
    for the largest block's PROGRAM targets and pulse counts)."""
    blocks = program_plan(layers, params, macro_config)
    largest = max(desc.n_rows * desc.n_cols for desc, *_ in blocks)
    sram = lay_out(layers, specs, params, 2 * params.words_for(8 * largest))
    return CompiledModel(
        params=params, macro_config=macro_config, layers=layers,
        plan=[(desc, targets) for desc, targets, _, _ in blocks],
        plan_layers=[name for *_, name in blocks], plan_weights=[w for _, _, w, _ in blocks],
        image=sram.image, segments=sram.segments, adapter_slots=adapter_slots,
        slot_regions=sram.slot_regions, lora_layer_addrs=sram.lora_layer_addrs,
        entry_addrs=sram.entry_addrs, lut_addrs=sram.lut_addrs, scratch=sram.scratch,
        steps=steps, input_scale=input_scale, output_scale=output_scale,
        neurons=sram.neurons, neuron_addrs=sram.neuron_addrs)
