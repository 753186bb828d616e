"""The face task end to end: float flow, then every stage measured on the chip.

    run_face(people=[0..4], forget=1, learn=5, seed=0) -> summary dict (JSON-ready)

Float training (pipeline.py) gives the pretrained network and its two adapters; the
pretrained weights are programmed into the crossbars once and every stage is then
an adapter set on that chip (on_chip.py). A cosimulated chip (Verilator by default)
runs test images next to the golden chip and every output byte is compared.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from rmlora.sw.cost import flow_costs
from rmlora.sw.data.olivetti import Augmentation

from .config import FlowConfig
from .face import prepare_face, run_face_float
from .on_chip import chip_check, evaluate_on_chip

__all__ = ["run_face", "TARGETS", "check_targets", "CALIBRATION_IMAGES"]

CALIBRATION_IMAGES = 512  # training images (seeded draw) the int8 scales come from

# The targets, each (summary key, comparison, bound); see check_targets.
TARGETS = [
    ("pretrained.chip.test_acc", ">=", 0.95),
    ("unlearned.lora.forget_acc", "<=", 0.05),
    ("unlearned.lora.retain_drop", "<=", 0.02),
    ("continual.lora.new_acc", ">=", 0.9),
    ("continual.lora.old_acc", ">=", 0.93),
    ("continual.lora.forget_acc", "<=", 0.05),
    ("mia.lora_minus_retrain", "abs<=", 0.05),
    ("chip_check.bit_exact", "==", True),
    ("chip_check.activity_equal", "==", True),
]


def lookup(summary: dict, key: str):
    value = summary
    for part in key.split("."):
        value = value[part]
    return value


def check_targets(summary: dict) -> list[dict]:
    """[{key, value, rule, met}] for every target; a missing value fails its target
    (e.g. chip_check skipped), with value None."""
    rows = []
    for key, rule, bound in TARGETS:
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
    out = {"attack": "loss threshold fitted on the retained people's training vs held-out "
                     "views, applied to the forgotten person's training images (member rate)"}
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


def run_face(
    people=range(5),
    forget: int = 1,
    learn: int = 5,
    seed: int = 0,
    check_backend: str | None = "verilator",
    check_images: int = 20,
    config: FlowConfig | None = None,
    aug: Augmentation | None = None,
    data_dir: str | os.PathLike | None = None,
    faces: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = False,
) -> dict:
    """The whole face flow; returns the summary (see the README for its keys).

    check_backend: the cosimulation backend of chip_check ("verilator", "icarus") or
    None to skip it; check_images: test images it runs (then held-out views)."""
    if check_backend is not None and check_images < 1:
        raise ValueError(f"check_images must be >= 1, got {check_images}")
    start = time.perf_counter()
    config = FlowConfig(seed=seed, progress=progress) if config is None else config
    prepared = prepare_face(people, forget, learn, seed, aug, data_dir, faces)
    people, split, data = prepared
    flow = run_face_float(people, forget, learn, seed, config, keep_models=True,
                          prepared=prepared)
    seconds = {"float_flow": flow["seconds"]}

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    calib = split.train_x[torch.randperm(len(split.train_x), generator=gen)[
        :CALIBRATION_IMAGES]]
    adapters = (config.forget_adapter.name, config.continual_adapter.name)
    chip_metrics, deployed = evaluate_on_chip(flow["models"], data, calib, adapters, seed,
                                              progress)
    seconds["chip_eval"] = time.perf_counter() - t0
    compiled = deployed["lora"].pop("compiled")
    conductances = deployed["lora"].pop("conductances")
    forget_slot = compiled.adapter_slots[config.forget_adapter.name]
    cost = flow_costs(flow["costs"], deployed,
                      compiled.slot_regions[forget_slot][1] * compiled.params.sram_word_bytes,
                      compiled)

    fm, cm = flow["metrics"], chip_metrics
    summary = {
        "task": "face",
        "config": {"people": people, "forget": forget, "learn": learn, "seed": seed,
                   "backend": "golden", "check_backend": check_backend,
                   "class_of": {str(p): c for p, c in split.class_of.items()},
                   "train_images": len(split.train_x), "test_images": len(split.test_x),
                   "calibration_images": len(calib)},
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
            name: {"slot": slot, "rank": spec.r, "alpha": spec.alpha,
                   "layers": list(spec.target_modules),
                   "sram_bytes": compiled.slot_regions[slot][1] * compiled.params.sram_word_bytes}
            for spec in (config.forget_adapter, config.continual_adapter)
            for name, slot in [(spec.name, compiled.adapter_slots[spec.name])]
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
        extra = max(0, check_images - len(split.test_x))
        images = torch.cat([split.test_x, split.holdout_x[:extra]])[:check_images]
        if len(images) < check_images:
            raise ValueError(f"check_images={check_images}: only {len(images)} test and "
                             f"held-out images")
        if progress:
            print(f"[face] chip check: {len(images)} images on {check_backend} and on the "
                  f"golden chip (several seconds per image)...", flush=True)
        summary["chip_check"] = chip_check(compiled, images.numpy(), list(adapters), seed,
                                           backend=check_backend)
        seconds["chip_check"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    summary["seconds"] = seconds
    summary["targets"] = check_targets(summary)
    return summary
