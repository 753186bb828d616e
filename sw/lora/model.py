"""Model-level adapter handling: inject into chosen layers, activate, freeze, merge, delete.

Target selection follows PEFT's ``target_modules`` rule, so a config written for PEFT
means the same here: a string is a regular expression that must match the whole module
name; a list matches a module whose name equals an entry or ends with ``"." + entry``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from rmlora.sw.lora.layer import LoraLinear


def matches_target(module_name: str, target_modules: str | list[str]) -> bool:
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, module_name) is not None
    return any(module_name == t or module_name.endswith("." + t) for t in target_modules)


def lora_layers(model: nn.Module) -> dict[str, LoraLinear]:
    """Name -> ``LoraLinear`` for every wrapped layer of the model."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoraLinear)}


def adapter_names(model: nn.Module) -> list[str]:
    names: list[str] = []
    for layer in lora_layers(model).values():
        names += [a for a in layer.adapters if a not in names]
    return names


def base_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The modules PEFT would see: the model's, with each ``LoraLinear`` standing for the
    Linear it wraps (its base layer and adapter tables are not modules of the base model)."""
    inner = [n + "." for n in lora_layers(model)]
    return {n: m for n, m in model.named_modules()
            if n and not any(n.startswith(prefix) for prefix in inner)}


def _wrappable_linears(model: nn.Module) -> dict[str, nn.Module]:
    """Plain Linears and existing LoraLinears, never the Linears inside a LoraLinear."""
    return {n: m for n, m in base_modules(model).items()
            if isinstance(m, nn.Linear | LoraLinear)}


def wrap_linear(model: nn.Module, module_name: str) -> LoraLinear:
    """Replace the ``nn.Linear`` at ``module_name`` by a ``LoraLinear`` (idempotent)."""
    module = model.get_submodule(module_name)
    if isinstance(module, LoraLinear):
        return module
    if not isinstance(module, nn.Linear):
        raise TypeError(f"{module_name!r} is {type(module).__name__}, not nn.Linear")
    parent_name, _, child = module_name.rpartition(".")
    wrapped = LoraLinear(module)
    setattr(model.get_submodule(parent_name), child, wrapped)
    return wrapped


def inject_adapter(
    model: nn.Module,
    name: str,
    r: int,
    alpha: float,
    target_modules: str | list[str],
    generator: torch.Generator | None = None,
) -> list[str]:
    """Add adapter ``name`` to every Linear matching ``target_modules``; returns their names.

    The base weights of wrapped layers are frozen; the adapter is added active.
    """
    targets = [n for n in _wrappable_linears(model) if matches_target(n, target_modules)]
    if not targets:
        raise ValueError(f"target_modules {target_modules!r} match no Linear layer of the model")
    for module_name in targets:
        if name in getattr(model.get_submodule(module_name), "lora_A", {}):
            raise ValueError(f"adapter {name!r} already exists on {module_name!r}")
    for module_name in targets:
        wrap_linear(model, module_name).add_adapter(name, r, alpha, generator=generator)
    return targets


def _layers_with(model: nn.Module, name: str) -> dict[str, LoraLinear]:
    layers = {n: m for n, m in lora_layers(model).items() if name in m.adapters}
    if not layers:
        raise KeyError(f"unknown adapter {name!r}; the model has {adapter_names(model)}")
    return layers


def adapter_targets(model: nn.Module, name: str) -> list[str]:
    return list(_layers_with(model, name))


def set_active_adapters(model: nn.Module, names: list[str]) -> None:
    """Activate exactly ``names`` on every layer (each layer keeps those it carries)."""
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        _layers_with(model, name)
    for layer in lora_layers(model).values():
        layer.set_active([n for n in names if n in layer.adapters])


def disable_adapters(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.disable_adapters()


def enable_adapters(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.enable_adapters()


def merge_adapters(model: nn.Module, names: list[str] | None = None) -> None:
    for layer in lora_layers(model).values():
        layer.merge(None if names is None else [n for n in names if n in layer.adapters])


def unmerge_adapters(model: nn.Module) -> None:
    for layer in lora_layers(model).values():
        layer.unmerge()


def delete_adapter(model: nn.Module, name: str) -> None:
    for layer in _layers_with(model, name).values():
        layer.delete_adapter(name)


def adapter_parameters(model: nn.Module, name: str) -> list[nn.Parameter]:
    params = []
    for layer in _layers_with(model, name).values():
        params += [layer.lora_A[name].weight, layer.lora_B[name].weight]
    return params


def mark_only_adapter_trainable(model: nn.Module, name: str) -> int:
    """Freeze every parameter except adapter ``name``'s; returns the trainable count."""
    params = adapter_parameters(model, name)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return sum(p.numel() for p in params)
