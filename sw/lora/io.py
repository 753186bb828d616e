"""Save and load one adapter in PEFT's on-disk layout.

``adapter_model.safetensors`` holds ``base_model.model.<module>.lora_A.weight`` (r x in)
and ``...lora_B.weight`` (out x r), without the adapter name, as PEFT writes them;
``adapter_config.json`` holds ``peft_type: "LORA"``, ``r``, ``lora_alpha``,
``target_modules`` and, for layers that differ, ``rank_pattern`` / ``alpha_pattern``.
So an adapter trained with PEFT on the same model loads here, and ours loads in PEFT
(peft_config.py says which PEFT adapters are refused, and why).

Loading is all or nothing: the config, every tensor and the whole plan (which layer
gets which rank, alpha and weights) are checked before the model is touched, and if
attaching still fails part-way the layers already changed are put back. A refused
file raises ``AdapterError`` (``FileNotFoundError`` when one is missing; ``ValueError``
for an adapter name that is invalid or already on the model) and leaves the model, its
``state_dict`` and its adapters exactly as they were.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from rmlora.sw.lora.layer import LoraLinear, check_adapter_name
from rmlora.sw.lora.model import _layers_with, adapter_names, base_modules, wrap_linear
from rmlora.sw.lora.peft_config import (
    AdapterError,
    exact_pattern,
    is_targeted,
    pattern_value,
    read_config,
)

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
PREFIX = "base_model.model."
_KEY = re.compile(r"base_model\.model\.(?P<module>.+)\.lora_(?P<part>A\.weight|B\.weight|B\.bias)")
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
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


def _target_modules(model: nn.Module, names: list[str]) -> list[str] | str:
    """The layer list, unless PEFT's suffix rule would also pick other modules of this
    model (``fc`` also matches ``block.fc``): then a regular expression naming exactly them."""
    others = set(base_modules(model)) - set(names)
    if any(o.endswith("." + n) for o in others for n in names):
        return "(?:" + "|".join(re.escape(n) for n in names) + ")"
    return names


def adapter_config(model: nn.Module, name: str) -> dict:
    layers = _layers_with(model, name)
    first = next(iter(layers.values()))
    r, alpha = first.r[name], first.lora_alpha[name]
    return {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": alpha,
        "target_modules": _target_modules(model, sorted(layers)),
        "rank_pattern": exact_pattern({n: m.r[name] for n, m in layers.items()}, r),
        "alpha_pattern": exact_pattern({n: m.lora_alpha[name] for n, m in layers.items()},
                                       alpha),
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


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError, RuntimeError) as err:
        raise AdapterError(f"{path}: not a readable safetensors file ({err})") from err
    for key, tensor in state.items():
        if tensor.dtype not in _FLOATS:
            raise AdapterError(f"{path}: {key!r} is {tensor.dtype}, not floating point")
        if not torch.isfinite(tensor).all():
            raise AdapterError(f"{path}: {key!r} holds NaN or infinite values")
    return state


def _group_by_module(state: dict[str, torch.Tensor], path: Path, lora_bias: bool
                     ) -> dict[str, dict[str, torch.Tensor]]:
    """Module name -> {"A.weight", "B.weight"[, "B.bias"]}, complete for every module.

    ``lora_B.bias`` is what PEFT writes with ``lora_bias=True``; the chip's LoRA unit has
    no bias, so it is accepted only when it is all zeros (PEFT's initial value), which
    leaves the output unchanged."""
    modules: dict[str, dict] = {}
    for key, tensor in state.items():
        match = _KEY.fullmatch(key)
        if match is None or (match["part"] == "B.bias" and not lora_bias):
            raise AdapterError(f"{path}: unexpected tensor {key!r} (expected {PREFIX}<module>"
                               f".lora_A.weight / .lora_B.weight"
                               f"{' / .lora_B.bias' if lora_bias else ''})")
        modules.setdefault(match["module"], {})[match["part"]] = tensor
    wanted = {"A.weight", "B.weight"} | ({"B.bias"} if lora_bias else set())
    for module_name, parts in modules.items():
        if set(parts) != wanted:
            missing = sorted(f"lora_{p}" for p in wanted - set(parts))
            raise AdapterError(f"{path}: {module_name!r} lacks {', '.join(missing)}")
        bias = parts.pop("B.bias", None)
        if bias is not None and (bias.dim() != 1 or bias.any()):
            raise AdapterError(f"{path}: {module_name!r} has a non-zero lora_B.bias (or not "
                               f"a vector); the chip's LoRA unit has no bias")
    return modules


@dataclass(frozen=True)
class _Step:
    module_name: str
    r: int
    alpha: float
    a: torch.Tensor
    b: torch.Tensor


def _plan(model: nn.Module, config: dict, modules: dict, path: Path) -> list[_Step]:
    """What to attach where; refuses anything that does not fit the model exactly."""
    candidates = base_modules(model)
    targeted = sorted(n for n in candidates if is_targeted(config, n))
    for module_name in targeted:
        if not isinstance(candidates[module_name], nn.Linear | LoraLinear):
            kind = type(candidates[module_name]).__name__
            raise AdapterError(f"{path.parent}: target_modules picks {module_name!r}, a "
                               f"{kind}; only Linear layers take an adapter")
    missing = [n for n in targeted if n not in modules]
    if missing:
        raise AdapterError(f"{path}: no lora_A/lora_B tensors for targeted modules {missing}")
    for module_name in sorted(set(modules) - set(targeted)):
        if module_name not in candidates:
            raise AdapterError(f"{path}: model has no module {module_name!r}")
        raise AdapterError(f"{path}: {module_name!r} is not picked by target_modules "
                           f"{config['target_modules']!r}")
    steps = []
    for module_name in targeted:
        layer = candidates[module_name]
        r = pattern_value(config["rank_pattern"], module_name, config["r"])
        alpha = pattern_value(config["alpha_pattern"], module_name, config["lora_alpha"])
        a, b = modules[module_name]["A.weight"], modules[module_name]["B.weight"]
        if a.shape != (r, layer.in_features) or b.shape != (layer.out_features, r):
            raise AdapterError(
                f"{path}: shape mismatch on {module_name!r}: lora_A {tuple(a.shape)} and "
                f"lora_B {tuple(b.shape)}, expected ({r}, {layer.in_features}) and "
                f"({layer.out_features}, {r}) for r={r}"
            )
        steps.append(_Step(module_name, r, float(alpha), a, b))
    return steps


def _attach(model: nn.Module, name: str, steps: list[_Step]) -> None:
    """Attach every step or, if one fails, none: undo the adapters added and the wraps made."""
    added: list[LoraLinear] = []
    wrapped: list[tuple[str, nn.Linear, list[bool]]] = []
    try:
        for step in steps:
            module = model.get_submodule(step.module_name)
            if not isinstance(module, LoraLinear):
                wrapped.append((step.module_name, module,
                                [p.requires_grad for p in module.parameters()]))
            layer = wrap_linear(model, step.module_name)
            layer.add_adapter(name, step.r, step.alpha)
            added.append(layer)
            with torch.no_grad():
                layer.lora_A[name].weight.copy_(step.a)
                layer.lora_B[name].weight.copy_(step.b)
    except BaseException:
        for layer in added:
            layer.delete_adapter(name)
        for module_name, linear, requires_grad in reversed(wrapped):
            parent, _, child = module_name.rpartition(".")
            setattr(model.get_submodule(parent), child, linear)
            for p, flag in zip(linear.parameters(), requires_grad, strict=True):
                p.requires_grad_(flag)
        raise


def load_adapter(model: nn.Module, directory: str | Path, name: str) -> list[str]:
    """Load the adapter in ``directory`` into ``model`` as ``name``; returns its layers.

    All or nothing: a refused load raises and leaves the model as it was."""
    check_adapter_name(name)
    if name in adapter_names(model):
        raise ValueError(f"adapter {name!r} already exists on {sorted(_layers_with(model, name))}")
    directory = Path(directory)
    config = read_config(directory / CONFIG_NAME)
    weights = directory / WEIGHTS_NAME
    modules = _group_by_module(_read_weights(weights), weights, config.get("lora_bias", False))
    steps = _plan(model, config, modules, weights)
    _attach(model, name, steps)
    return [step.module_name for step in steps]
