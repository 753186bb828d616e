"""The compiler: a PyTorch model and named LoRA adapters to what the chip runs.

It quantises the model to integers, places the frozen weights on the ReRAM
macros with their conductance targets (the write-verify plan), and builds the
SRAM image: layer programs, crossbar and LoRA descriptors, LUTs and one region
per adapter slot, plus the host steps between the chip's segments.
"""

from rmlora.sw.compiler.compile import chip_layer_names, compile_model, default_macro_config
from rmlora.sw.compiler.compiled import ChipLayer, CompiledModel, RecordInfo, Segment
from rmlora.sw.compiler.lsm_chip import compile_lsm
from rmlora.sw.compiler.steps import (
    AddStep,
    ChipStep,
    MeanStep,
    QuantizeInput,
    RmsNormStep,
    SpikeInput,
    TransposeStep,
)

__all__ = ["compile_model", "compile_lsm", "chip_layer_names", "default_macro_config", "ChipLayer",
           "CompiledModel", "RecordInfo", "Segment", "ChipStep", "QuantizeInput", "RmsNormStep",
           "TransposeStep", "AddStep", "MeanStep", "SpikeInput"]
