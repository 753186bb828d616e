"""A task end to end: float flow, then every stage measured on the chip.

    run_on_chip(task, class_of, data, make_model, config, targets, ...) -> summary

Float training (pipeline.py) gives the pretrained network and its two adapters; the
pretrained weights are programmed into the crossbars once and every stage is then
an adapter set on that chip (on_chip.py). A cosimulated chip (Verilator by default)
runs test inputs next to the golden chip and every output byte is compared. The
tasks (face.py, speaker.py) supply data, model, config and targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rmlora.sw.cost import flow_costs

from .config import FlowConfig
from .on_chip import chip_check, evaluate_on_chip
from .pipeline import run_flow
from .stages import FlowData

__all__ = ["run_on_chip", "check_targets", "lookup", "CALIBRATION_INPUTS"]

CALIBRATION_INPUTS = 512  # training inputs (seeded draw) the int8 scales come from



def lookup(summary: dict, key: str):
    value = summary
    for part in key.split("."):
        value = value[part]
    return value


def check_targets(summary: dict, targets: list[tuple]) -> list[dict]:
    """[{key, value, rule, met}] for every target; a missing value fails its target
    (e.g. chip_check skipped), with value None."""
    rows = []
    for key, rule, bound in targets:
        try:
            value = lookup(summary, key)
        except KeyError:
            value = None
        if value is None:
            met = False
        elif rule == ">=":
            met = value >= bound
        elif rule == "<=":
            met = value <= bound
        elif rule == "abs<=":
            met = abs(value) <= bound
        else:
            met = value == bound
        rows.append({"key": key, "value": value, "rule": f"{rule} {bound}", "met": bool(met)})
    return rows


def _roles(m: dict) -> dict:
    return {"forget_acc": m["forget_acc"], "retain_acc": m["retain_acc"],
            "new_acc": m["new_acc"], "retain_holdout_acc": m["retain_holdout_acc"]}


def _mia(metrics: dict) -> dict:
    out = {"attack": "loss threshold fitted on the kept classes' training vs held-out "
                     "inputs, applied to the forgotten class's training inputs (member rate)"}
    for stage, key in (("pretrained", "pretrained"), ("unlearned_lora", "lora"),
                       ("full_finetune", "full_finetune"), ("retrained", "retrain")):
        if stage in metrics:
            out[key] = metrics[stage]["mia"]["member_rate"]
            out[key + "_auc"] = metrics[stage]["mia"]["auc"]
    if "retrain" in out:
        out["lora_minus_retrain"] = out["lora"] - out["retrain"]
    return out


def _conductance_histogram(g: dict, cfg) -> dict:
    edges = np.linspace(cfg.g_floor_us, cfg.g_ceiling_us, 96)
    err = g["programmed_us"] - g["target_us"]
    err_edges = np.linspace(-3 * cfg.verify_tolerance_us, 3 * cfg.verify_tolerance_us, 61)
    return {
        "edges_us": edges.tolist(),
        "target_counts": np.histogram(g["target_us"], edges)[0].tolist(),
        "programmed_counts": np.histogram(g["programmed_us"], edges)[0].tolist(),
        "error_edges_us": err_edges.tolist(),
        "error_counts": np.histogram(np.clip(err, err_edges[0], err_edges[-1]),
                                     err_edges)[0].tolist(),
        "error_std_us": float(err.std()),
        "error_max_us": float(np.abs(err).max()),
        "cells": int(err.size),
    }


def run_on_chip(
    task: str,
    class_of: dict,
    data: FlowData,
    make_model: Callable[[], nn.Module],
    config: FlowConfig,
    targets: list[tuple],
    task_config: dict,
    check_backend: str | None = "verilator",
    check_images: int = 20,
    progress: bool = False,
) -> dict:
    """The whole flow of one task; returns the summary (see the README for its keys).

    class_of: class name (person id, speaker) -> class index; task_config: what the
    task records of its choices. check_backend: the cosimulation backend of
    chip_check ("verilator", "icarus") or None to skip it; check_images: test inputs
    it runs (then held-out inputs)."""
    if check_backend is not None and check_images < 1:
        raise ValueError(f"check_images must be >= 1, got {check_images}")
    seed = config.seed
    start = time.perf_counter()
    flow = run_flow(data, make_model, config, keep_models=True)
    seconds = {"float_flow": flow["seconds"]}

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    calib = data.train_x[torch.randperm(len(data.train_x), generator=gen)[
        :CALIBRATION_INPUTS]]
    adapters = (config.forget_adapter.name, config.continual_adapter.name)
    chip_metrics, deployed = evaluate_on_chip(flow["models"], data, calib, adapters, seed,
                                              progress)
    seconds["chip_eval"] = time.perf_counter() - t0
    compiled = deployed["lora"].pop("compiled")
    conductances = deployed["lora"].pop("conductances")
    cost = flow_costs(flow["costs"], deployed,
                      compiled.adapter_bytes(config.forget_adapter.name), compiled)

    fm, cm = flow["metrics"], chip_metrics
    summary = {
        "task": task,
        "config": task_config | {
            "seed": seed, "backend": "golden", "check_backend": check_backend,
            "class_of": {str(p): c for p, c in class_of.items()},
            "train_inputs": len(data.train_x), "test_inputs": len(data.test_x),
            "calibration_inputs": len(calib)},
        "pretrained": {
            "float": {"test_acc": fm["pretrained"]["pretrained_people_acc"]}
            | _roles(fm["pretrained"]),
            "chip": {"test_acc": cm["pretrained"]["pretrained_people_acc"]}
            | _roles(cm["pretrained"]),
        },
        "unlearned": {},
        "continual": {},
        "mia": _mia(cm),
        "mia_float": _mia(fm),
        "confusion": {stage: m["confusion"] for stage, m in cm.items()},
        "deploy": deployed,
        "programming": _conductance_histogram(conductances, compiled.macro_config),
        "adapters": {
            spec.name: {"slot": compiled.adapter_slots[spec.name], "rank": spec.r,
                        "alpha": spec.alpha, "layers": list(spec.target_modules),
                        "sram_bytes": compiled.adapter_bytes(spec.name)}
            for spec in (config.forget_adapter, config.continual_adapter)
        },
        "costs": flow["costs"],
        "cost": cost,
        "inferences": {stage: m["inferences"] for stage, m in cm.items()},
    }
    before = cm["pretrained"]["retain_acc"]
    for stage, key in (("unlearned_lora", "lora"), ("full_finetune", "full_finetune"),
                       ("retrained", "retrain")):
        if stage in cm:
            summary["unlearned"][key] = _roles(cm[stage]) | {"float": _roles(fm[stage])}
    lora = summary["unlearned"]["lora"]
    lora["retain_before"] = before
    lora["retain_drop"] = before - lora["retain_acc"]
    cont = cm["continual_lora"]
    summary["continual"]["lora"] = {
        "new_acc": cont["new_acc"], "old_acc": cont["retain_acc"],
        "forget_acc": cont["forget_acc"],
        "float": {"new_acc": fm["continual_lora"]["new_acc"],
                  "old_acc": fm["continual_lora"]["retain_acc"],
                  "forget_acc": fm["continual_lora"]["forget_acc"]},
    }

    if check_backend is not None:
        t0 = time.perf_counter()
        extra = max(0, check_images - len(data.test_x))
        images = torch.cat([data.test_x, data.holdout_x[:extra]])[:check_images]
        if len(images) < check_images:
            raise ValueError(f"check_images={check_images}: only {len(images)} test and "
                             f"held-out inputs")
        if progress:
            print(f"[{task}] chip check: {len(images)} inputs on {check_backend} and on "
                  f"the golden chip...", flush=True)
        summary["chip_check"] = chip_check(compiled, images.numpy(), list(adapters), seed,
                                           backend=check_backend)
        seconds["chip_check"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    summary["seconds"] = seconds
    summary["targets"] = check_targets(summary, targets)
    return summary
