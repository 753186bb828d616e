"""PEFT's ``adapter_config.json``, checked whole, and PEFT's rules for reading it.

A config is accepted only when loading it here gives the model PEFT 0.21 would give:
every option that changes what the adapted layers compute must be at PEFT's default,
``init_lora_weights`` must not be one of the initialisations that rewrite the base
weights (PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA: their adapters only make sense on the
residual base model they were trained against), and unknown options are refused
rather than guessed at. The matching rules copy PEFT's behaviour (not its code):
``target_modules``/``exclude_modules``/``layers_to_transform`` as in
``peft.tuners.tuners_utils.check_target_module_exists``, pattern keys as in
``peft.utils.other.get_pattern_key`` (first key, in file order, for which
``(.*\\.)?(key)$`` matches the module name from its start).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from rmlora.sw.lora.model import matches_target


class AdapterError(ValueError):
    """An adapter directory that cannot be loaded as it is; the model was not changed."""


# Options that change the adapted layers' output (or wrap other modules) when they
# differ from PEFT's default; the chip's LoRA unit computes plain scaling * B A x.
MUST_BE_DEFAULT = {
    "use_dora": False,
    "use_rslora": False,
    "fan_in_fan_out": False,
    "bias": "none",
    "modules_to_save": None,
    "use_qalora": False,
    "layer_replication": None,
    "target_parameters": None,
    "trainable_token_indices": None,
    "alora_invocation_tokens": None,
    "arrow_config": None,
    "use_bdlora": None,
    "velora_config": None,
    "monteclora_config": None,
    "kasa_config": None,
    "megatron_config": None,
    "ensure_weight_tying": False,
}
# Options that do not change a loaded adapter's output (bookkeeping, training-only
# settings, the parameters of an initialisation that a loaded file overrides).
NEUTRAL = {
    "task_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
    "inference_mode", "lora_dropout", "megatron_core", "runtime_config", "loftq_config",
    "eva_config", "corda_config", "lora_ga_config", "qalora_group_size",
}
# Read and checked below.
CHECKED = {
    "peft_type", "r", "lora_alpha", "target_modules", "exclude_modules", "rank_pattern",
    "alpha_pattern", "layers_to_transform", "layers_pattern", "init_lora_weights", "lora_bias",
}
# Initialisations whose loaded weights are the trained weights: B A is the whole change.
PLAIN_INITS = (True, False, "gaussian", "eva", "orthogonal", "mica")
# Initialisations that subtract the initial B A from the base weights (PEFT's lora/layer.py
# pissa_init, olora_init, corda_init, loftq_init, lora_ga_init).
BASE_MUTATING_INITS = ("pissa", "olora", "corda", "loftq", "lora_ga")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_rank(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AdapterError(f"{where} must be an integer >= 1, got {value!r}")
    return value


def _check_alpha(value, where: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise AdapterError(f"{where} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as err:
        raise AdapterError(f"{where}: {pattern!r} is not a regular expression ({err})") from err


def _check_names(value, where: str, allow_none: bool) -> None:
    """``None`` (if allowed), a regular expression, or a list of module names."""
    if value is None and allow_none:
        return
    if isinstance(value, str):
        if value == "all-linear":  # PEFT expands it by model type; name the layers instead
            raise AdapterError(f"{where}='all-linear' is not supported: list the modules")
        _check_regex(value, where)
    elif not (isinstance(value, list) and (value or allow_none)
              and all(isinstance(v, str) for v in value)):
        raise AdapterError(f"{where} must be a regular expression or a list of module "
                           f"names, got {value!r}")


def _check_pattern(pattern, where: str, check_value) -> dict:
    if pattern is None:
        return {}
    if not isinstance(pattern, dict):
        raise AdapterError(f"{where} must be an object, got {pattern!r}")
    for key, value in pattern.items():
        _check_regex(rf"(.*\.)?({key})$", f"{where} key")
        check_value(value, f"{where}[{key!r}]")
    return pattern


def _check_init(init, path: Path) -> None:
    if isinstance(init, str) and init.lower().startswith(BASE_MUTATING_INITS):
        raise AdapterError(
            f"{path}: init_lora_weights={init!r} rewrites the base weights, so this adapter "
            f"is only right on the residual model it was trained with, not on the chip's "
            f"base weights. Convert it to a plain LoRA in PEFT: save it with "
            f"save_pretrained(..., path_initial_model_for_weight_conversion=<the adapter "
            f"saved before training>), which writes an equivalent adapter with "
            f"init_lora_weights=True."
        )
    if not any(init is p or (isinstance(p, str) and init == p) for p in PLAIN_INITS):
        raise AdapterError(f"{path}: init_lora_weights={init!r} is not one of {PLAIN_INITS}")


def read_config(path: Path) -> dict:
    """The checked config at ``path`` (``r``/``lora_alpha`` typed, patterns as dicts)."""
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AdapterError(f"{path}: not JSON ({err})") from err
    if not isinstance(config, dict):
        raise AdapterError(f"{path}: must hold a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(MUST_BE_DEFAULT) - NEUTRAL - CHECKED)
    if unknown:
        raise AdapterError(f"{path}: unknown options {unknown} (not in PEFT 0.21's LoraConfig); "
                           f"refused rather than guessing what they change")
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"{path}: peft_type must be 'LORA', got {config.get('peft_type')!r}")
    for option, default in MUST_BE_DEFAULT.items():
        value = config.get(option, default)
        if value != default and not (option == "modules_to_save" and value == []):
            raise AdapterError(f"{path}: {option}={value!r} is not supported (only {default!r})")
    for key in ("r", "lora_alpha", "target_modules"):
        if config.get(key) is None:
            raise AdapterError(f"{path}: missing {key!r}")
    _check_rank(config["r"], f"{path}: r")
    _check_alpha(config["lora_alpha"], f"{path}: lora_alpha")
    _check_names(config["target_modules"], f"{path}: target_modules", allow_none=False)
    _check_names(config.get("exclude_modules"), f"{path}: exclude_modules", allow_none=True)
    config["rank_pattern"] = _check_pattern(config.get("rank_pattern"), f"{path}: rank_pattern",
                                            _check_rank)
    config["alpha_pattern"] = _check_pattern(config.get("alpha_pattern"),
                                             f"{path}: alpha_pattern", _check_alpha)
    layers = config.get("layers_to_transform")
    if layers is not None and not (
        (isinstance(layers, int) and not isinstance(layers, bool))
        or (isinstance(layers, list)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in layers))
    ):
        raise AdapterError(f"{path}: layers_to_transform must be an integer or a list of "
                           f"integers, got {layers!r}")
    layers_pattern = config.get("layers_pattern")
    if layers_pattern is not None:
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern
        if not (isinstance(patterns, list) and all(isinstance(p, str) for p in patterns)):
            raise AdapterError(f"{path}: layers_pattern must be a string or a list of strings, "
                               f"got {layers_pattern!r}")
        for p in patterns:
            _check_regex(p, f"{path}: layers_pattern")
    _check_init(config.get("init_lora_weights", True), path)
    if not isinstance(config.get("lora_bias", False), bool):
        raise AdapterError(f"{path}: lora_bias must be true or false, got {config['lora_bias']!r}")
    dropout = config.get("lora_dropout", 0.0)
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise AdapterError(f"{path}: lora_dropout must be in [0, 1), got {dropout!r}")
    return config


def _layer_index(config: dict, module_name: str) -> int | None:
    """The layer number in ``module_name`` that ``layers_to_transform`` refers to (PEFT:
    the first number after ``layers_pattern``, or the first dotted number two levels in)."""
    patterns = config.get("layers_pattern")
    if not patterns:
        match = re.match(r".*?\.[^.]*\.(?P<idx>\d+)\.", module_name)
    else:
        match = None
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            match = re.match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", module_name)
            if match is not None:
                break
    return None if match is None else int(match["idx"])


def is_targeted(config: dict, module_name: str) -> bool:
    """Would PEFT put this adapter on ``module_name``?"""
    exclude = config.get("exclude_modules")
    if exclude and matches_target(module_name, exclude):
        return False
    targets = config["target_modules"]
    if isinstance(targets, str) or module_name in targets:
        # a regular expression, or named directly: layers_to_transform does not apply
        # (as in PEFT)
        return matches_target(module_name, targets)
    if not matches_target(module_name, targets):
        return False
    layers = config.get("layers_to_transform")
    if layers is None or layers == []:
        return True
    index = _layer_index(config, module_name)
    if index is None:
        return False
    return index == layers if isinstance(layers, int) else index in layers


def pattern_value(pattern: dict, module_name: str, default):
    """PEFT's ``rank_pattern``/``alpha_pattern`` lookup: the value of the first key (in
    order) that matches the end of ``module_name`` at a dot; ``default`` if none does.
    The key is grouped, so ``a|b`` means "ends with a or b", not "ends with a, or is b"."""
    for key, value in pattern.items():
        if re.match(rf"(.*\.)?({key})$", module_name):
            return value
    return default


def exact_pattern(values: dict[str, float], default) -> dict:
    """A pattern that gives every layer in ``values`` its value under ``pattern_value``.

    Keys are escaped module names, longest first: a key matches its own module and the
    modules whose names end with ``.`` + it, so each module's own key comes before any
    shorter key that would also match it."""
    ordered = sorted(values, key=len, reverse=True)
    pattern = {re.escape(n): values[n] for n in ordered if values[n] != default}
    if any(pattern_value(pattern, n, default) != v for n, v in values.items()):
        pattern = {re.escape(n): values[n] for n in ordered}
    return pattern
