"""Save and load one adapter in PEFT's on-disk layout.

``adapter_model.safetensors`` holds ``base_model.model.<module>.lora_A.weight`` (r x in)
and ``...lora_B.weight`` (out x r), without the adapter name, as PEFT writes them;
``adapter_config.json`` holds ``peft_type: "LORA"``, ``r``, ``lora_alpha``,
``target_modules`` and, for layers that differ, ``rank_pattern`` / ``alpha_pattern``.
So an adapter trained with PEFT on the same model loads here, and ours loads in PEFT.
Loading checks everything before touching the model: a bad file leaves it unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from rmlora.sw.lora.layer import LoraLinear
from rmlora.sw.lora.model import _layers_with, matches_target, wrap_linear

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
PREFIX = "base_model.model."
_KEY = re.compile(r"base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight")
# Options PEFT may write whose effect this implementation (and the chip) does not have.
_UNSUPPORTED = {"use_dora": False, "use_rslora": False, "fan_in_fan_out": False}


def adapter_state_dict(model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """PEFT-named tensors of adapter ``name``."""
    state = {}
    for module_name, layer in _layers_with(model, name).items():
        for ab, table in (("A", layer.lora_A), ("B", layer.lora_B)):
            key = f"{PREFIX}{module_name}.lora_{ab}.weight"
            state[key] = table[name].weight.detach().contiguous().clone()
    return state


def adapter_config(model: nn.Module, name: str) -> dict:
    layers = _layers_with(model, name)
    first = next(iter(layers.values()))
    r, alpha = first.r[name], first.lora_alpha[name]
    return {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": alpha,
        "target_modules": sorted(layers),
        "rank_pattern": {n: m.r[name] for n, m in layers.items() if m.r[name] != r},
        "alpha_pattern": {
            n: m.lora_alpha[name] for n, m in layers.items() if m.lora_alpha[name] != alpha
        },
        "lora_dropout": 0.0,
        "bias": "none",
        "init_lora_weights": True,
        "modules_to_save": None,
        "task_type": None,
        "inference_mode": True,
        "base_model_name_or_path": None,
        **_UNSUPPORTED,
    }


def save_adapter(model: nn.Module, name: str, directory: str | Path) -> Path:
    """Write adapter ``name`` to ``directory`` (created if needed); returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(adapter_state_dict(model, name), str(directory / WEIGHTS_NAME))
    config = adapter_config(model, name)
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def _pattern_value(module_name: str, pattern: dict, default):
    """PEFT's rule: a pattern key applies when it matches the name's tail at a dot."""
    for key, value in pattern.items():
        if re.fullmatch(rf"(.*\.)?{key}", module_name):
            return value
    return default


def _read_config(directory: Path) -> dict:
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory}")
    config = json.loads(path.read_text())
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{path}: peft_type must be 'LORA', got {config.get('peft_type')!r}")
    for option, supported in _UNSUPPORTED.items():
        if config.get(option, supported) != supported:
            raise ValueError(f"{path}: {option}={config[option]!r} is not supported")
    if config.get("bias", "none") != "none":
        raise ValueError(f"{path}: bias={config['bias']!r} is not supported (no biases)")
    if config.get("modules_to_save"):
        raise ValueError(f"{path}: modules_to_save is not supported (base weights are frozen)")
    for key in ("r", "lora_alpha"):
        if key not in config:
            raise ValueError(f"{path}: missing {key!r}")
    return config


def _group_by_module(state: dict[str, torch.Tensor], path: Path) -> dict[str, dict]:
    modules: dict[str, dict] = {}
    for key, tensor in state.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"{path}: unexpected tensor {key!r} (expected {PREFIX}<module>"
                             ".lora_A.weight / .lora_B.weight)")
        modules.setdefault(match["module"], {})[match["ab"]] = tensor
    for module_name, pair in modules.items():
        if set(pair) != {"A", "B"}:
            raise ValueError(f"{path}: {module_name!r} lacks lora_A or lora_B")
    return modules


def load_adapter(model: nn.Module, directory: str | Path, name: str) -> list[str]:
    """Load the adapter in ``directory`` into ``model`` as ``name``; returns its layers."""
    directory = Path(directory)
    config = _read_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"no {WEIGHTS_NAME} in {directory}")
    modules = _group_by_module(load_file(str(weights)), weights)
    targets = config.get("target_modules")
    plan = []
    for module_name, pair in sorted(modules.items()):
        if targets is not None and not matches_target(module_name, targets):
            raise ValueError(f"{weights}: {module_name!r} not in target_modules {targets!r}")
        try:
            layer = model.get_submodule(module_name)
        except AttributeError as err:
            raise ValueError(f"{weights}: model has no module {module_name!r}") from err
        if isinstance(layer, LoraLinear):
            if name in layer.adapters:
                raise ValueError(f"adapter {name!r} already exists on {module_name!r}")
            layer = layer.base_layer
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"{module_name!r} is {type(layer).__name__}, not a Linear")
        r = _pattern_value(module_name, config.get("rank_pattern") or {}, config["r"])
        alpha = _pattern_value(module_name, config.get("alpha_pattern") or {}, config["lora_alpha"])
        a, b = pair["A"], pair["B"]
        if a.shape != (r, layer.in_features) or b.shape != (layer.out_features, r):
            raise ValueError(
                f"{weights}: shape mismatch on {module_name!r}: lora_A {tuple(a.shape)} and "
                f"lora_B {tuple(b.shape)}, expected ({r}, {layer.in_features}) and "
                f"({layer.out_features}, {r}) for r={r}"
            )
        plan.append((module_name, r, alpha, a, b))
    for module_name, r, alpha, a, b in plan:
        wrapped = wrap_linear(model, module_name)
        wrapped.add_adapter(name, r, alpha)
        with torch.no_grad():
            wrapped.lora_A[name].weight.copy_(a)
            wrapped.lora_B[name].weight.copy_(b)
    return [p[0] for p in plan]
