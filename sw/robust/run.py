"""One Monte Carlo run: a fresh chip under one condition, deployed, measured, compensated.

A run is a pure function of (setup, spec): the chip's seed decides its devices
(cell spreads, stuck cells, noise), so a run gives the same numbers wherever it
executes - inline, in a process pool or on a Dask worker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from rmlora.sw.compiler import CompiledModel
from rmlora.sw.learn.compensate import (
    COMPENSATION,
    compile_compensated,
    fit_compensation,
    measure_weights,
)
from rmlora.sw.learn.evaluate import predicted_class_accuracy
from rmlora.sw.learn.on_chip import deploy
from rmlora.sw.runtime import Chip, run_network

from .conditions import Condition
from .setup import Deployment, Setup

__all__ = ["RunSpec", "run_seed", "run_one"]

MAX_RUNS = 1000  # runs per condition: run seeds are seed * MAX_RUNS + run


@dataclass(frozen=True)
class RunSpec:
    deployment: str  # "plain" or "hwa"
    condition: Condition
    run: int

    def seed(self, base: int) -> int:
        return run_seed(base, self.run)


def run_seed(base: int, run: int) -> int:
    """The chip seed of run ``run``: the same for every condition (paired runs: a level
    differs from the next only by the condition, not by the devices drawn)."""
    if not 0 <= run < MAX_RUNS:
        raise ValueError(f"run {run}: at most {MAX_RUNS} runs per condition")
    return base * MAX_RUNS + run


def _roles(setup: Setup, chip: Chip, compiled: CompiledModel, adapters: list[str]) -> dict:
    """Accuracies by class role over the evaluation set with these adapters on."""
    chip.enable(adapters)
    pred = run_network(compiled, setup.x, lambda segment, v: chip.run(segment, v)[0]).argmax(1)

    def acc(classes):
        return predicted_class_accuracy(pred, setup.y, classes)
    return {"pretrained_acc": acc(setup.pretrain_classes), "old_acc": acc(setup.retain_classes),
            "forget_acc": acc([setup.forget_class]), "new_acc": acc([setup.new_class])}


def _failed_by_layer(dep: Deployment, failed_at: list) -> dict[str, int]:
    """Cells write-verify gave up on, counted per network layer (the fault map)."""
    counts: dict[str, int] = {}
    for (desc, _), layer in zip(dep.compiled.plan, dep.compiled.plan_layers, strict=True):
        n = sum(1 for macro, row, col in failed_at
                if macro == desc.macro and desc.row0 <= row < desc.row0 + desc.n_rows
                and desc.col0 <= col < desc.col0 + desc.n_cols)
        if n:
            counts[layer] = counts.get(layer, 0) + n
    return counts


def run_one(setup: Setup, spec: RunSpec) -> dict:
    """Deploy ``spec.deployment`` on a fresh golden chip under ``spec.condition``, wait
    the condition's time, measure; probe the weights, fit and load the compensation
    adapter (SRAM only), measure again. With the flow's adapters, both measurements
    are repeated with them on (do they still forget and learn on this chip?).
    One BLAS thread, in or out of a pool: workers that each took every core's thread
    ran the make-sim sweep 2.2x slower on 2 cores (159 s against 72 s)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_one(setup, spec)


def _run_one(setup: Setup, spec: RunSpec) -> dict:
    torch.set_num_threads(1)  # compile's calibration pass: tiny matrices
    dep = setup.deployments[spec.deployment]
    seed = spec.seed(setup.seed)
    config = spec.condition.macro_config(dep.compiled.macro_config)
    out = {"deployment": spec.deployment} | asdict(spec.condition) | {"run": spec.run,
                                                                      "seed": seed}
    with Chip(backend="golden", macro_config=config, seed=seed) as chip:
        report = deploy(chip, dep.compiled)
        if spec.condition.seconds:
            chip.set_time(spec.condition.seconds)
        out["failed_cells"] = report["failed_cells"]
        out["failed_by_layer"] = _failed_by_layer(dep, report["failed_at"])
        out["deployed"] = _roles(setup, chip, dep.compiled, [])
        if dep.adapters:
            out["adapters"] = _roles(setup, chip, dep.compiled, list(dep.adapters))
        measured = measure_weights(chip, dep.compiled, dep.probe)
        fitted, stats = fit_compensation(dep.model, dep.compiled, measured, dep.moments)
        compiled = compile_compensated(fitted, setup.calib, dep.compiled)
        chip.load(compiled.image, names=compiled.adapter_slots)
        out["compensated"] = _roles(setup, chip, compiled, [COMPENSATION])
        if dep.adapters:
            out["adapters_compensated"] = _roles(setup, chip, compiled,
                                                 [*dep.adapters, COMPENSATION])
    out["weight_error_rms"] = float(np.sqrt(np.mean([s["weight_error_rms"] ** 2
                                                     for s in stats.values()])))
    out["output_error_left"] = float(np.mean([s["output_error_left"] for s in stats.values()]))
    out["compensation_bytes"] = compiled.adapter_bytes(COMPENSATION)
    return out
