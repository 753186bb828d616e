"""A classification task's summary: accuracies by class role on the chip and in float,
the membership attack, confusion, programming and adapters, from a finished run."""

from __future__ import annotations

import numpy as np

from rmlora.sw.learn.chip_flow import EVAL_BACKEND
from rmlora.sw.learn.restore import UNRESTORED

from .task import Run

__all__ = ["classifier_summary"]


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


def classifier_summary(run: Run, task: str, noun: str) -> dict:
    """The summary of a classification run (the README lists its keys); ``noun`` names
    the classes in its config (people, speakers)."""
    classes, class_of, data = run.prepared
    config, compiled, deployed = run.config, run.compiled, run.deployed
    fm, cm = run.trained.metrics, run.evaluator.metrics
    roles = run.options
    summary = {
        "task": task,
        "config": {noun: list(classes), "forget": roles.forget, "learn": roles.learn} | {
            "seed": run.seed, "backend": EVAL_BACKEND, "check_backend": run.check_backend,
            "class_of": {str(p): c for p, c in class_of.items()},
            "train_inputs": len(data.train_x), "test_inputs": len(data.test_x),
            "calibration_inputs": len(run.calib),
            # MVM reads per bit plane by layer, and the layers that got fewer than asked
            "mvm_reads": {layer.name: layer.reads for layer in compiled.layers},
            "mvm_reads_clamped": [layer.name for layer in compiled.layers
                                  if layer.reads_clamped]},
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
        "programming": _conductance_histogram(run.evaluator.conductances,
                                              compiled.macro_config),
        "adapters": {
            spec.name: {"slot": compiled.adapter_slots[spec.name], "rank": spec.r,
                        "alpha": spec.alpha, "layers": list(spec.target_modules),
                        "sram_bytes": compiled.adapter_bytes(spec.name)}
            for spec in (config.forget_adapter, config.continual_adapter)
        },
        "costs": run.trained.costs,
        "cost": run.cost,
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
    if "pretrained" + UNRESTORED in cm:  # the restore stage ran: each stage without it
        pre, unl, cont = (cm[stage + UNRESTORED] for stage in
                          ("pretrained", "unlearned_lora", "continual_lora"))
        summary["pretrained"]["chip_unrestored"] = {
            "test_acc": pre["pretrained_people_acc"]} | _roles(pre)
        lora["unrestored"] = _roles(unl)
        summary["continual"]["lora"]["unrestored"] = {
            "new_acc": cont["new_acc"], "old_acc": cont["retain_acc"],
            "forget_acc": cont["forget_acc"]}
    return summary
