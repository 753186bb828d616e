"""Multi-adapter LoRA in the style of PEFT: the digital half of every chip layer.

``LoraLinear`` (layer.py) wraps a frozen weight; model.py injects and manages adapters
by name; io.py saves and loads them in PEFT's safetensors layout, all or nothing, with
peft_config.py checking the config and matching modules by PEFT's rules.
"""

from rmlora.sw.lora.io import adapter_config, adapter_state_dict, load_adapter, save_adapter
from rmlora.sw.lora.layer import LoraLinear
from rmlora.sw.lora.model import (
    adapter_names,
    adapter_parameters,
    adapter_targets,
    delete_adapter,
    disable_adapters,
    enable_adapters,
    inject_adapter,
    lora_layers,
    mark_only_adapter_trainable,
    matches_target,
    merge_adapters,
    set_active_adapters,
    unmerge_adapters,
    wrap_linear,
)
from rmlora.sw.lora.peft_config import AdapterError
from rmlora.sw.lora.spec import AdapterSpec

__all__ = [
    "AdapterError",
    "AdapterSpec",
    "LoraLinear",
    "adapter_config",
    "adapter_names",
    "adapter_parameters",
    "adapter_state_dict",
    "adapter_targets",
    "delete_adapter",
    "disable_adapters",
    "enable_adapters",
    "inject_adapter",
    "load_adapter",
    "lora_layers",
    "mark_only_adapter_trainable",
    "matches_target",
    "merge_adapters",
    "save_adapter",
    "set_active_adapters",
    "unmerge_adapters",
    "wrap_linear",
]
