"""The one pipeline every task runs: pretrain -> restore (deploy, fit the compensation
on the chip) -> unlearn -> continual -> baselines (in float) -> every stage on the
chip -> chip check -> cost -> summary with targets.

    summary = run_task(task, options, seed=0, check_backend="verilator")

The task supplies each step's specifics (task.py); the on-chip part is shared
(rmlora.sw.learn.chip_flow), so is the chip check and the cost model. The summary is
JSON-ready; its report is written by rmlora.sw.report from the summary alone.
"""

from __future__ import annotations

import time

from rmlora.sw.cost import OpTable, flow_costs
from rmlora.sw.learn.chip_flow import measure_on_chip
from rmlora.sw.learn.on_chip import chip_check

from .task import Run, Task

__all__ = ["run_task"]


def run_task(task: Task, options=None, seed: int = 0,
             check_backend: str | None = "verilator", check_inputs: int = 20,
             config=None, source=None, prepared=None, progress: bool = False,
             restore: bool = True, validation: bool = False,
             cost_table: OpTable | None = None) -> dict:
    """Run ``task`` end to end; the summary (see the README for its keys).

    options: the task's (default: ``task.default_options``); config: the flow
    configuration (default: the task's for these options); source: replaces the
    dataset files; prepared: the task's prepared data (skips loading);
    check_backend: the cosimulation backend the chip check runs next to the golden
    chip ("verilator", "icarus"; "golden" compares two golden chips), None to skip
    it; check_inputs: inputs it runs; restore: run the restore stage (a compensation
    adapter fitted on the deployed chip, on in every later stage; False: the flow
    without it, for comparison); validation: run on the task's validation split (the
    training data split again; for choosing recipes, never on test inputs); cost_table:
    what the cost model prices with (default: ``table_for()``: 180 nm, 1.8 V, and
    its default clock)."""
    if check_backend is not None and check_inputs < 1:
        raise ValueError(f"check_inputs must be >= 1, got {check_inputs}")
    options = task.default_options if options is None else options
    config = task.flow_config(options, seed, progress) if config is None else config
    if config.seed != seed:
        raise ValueError(f"seed={seed} disagrees with config.seed={config.seed}")
    start = time.perf_counter()
    if prepared is None:
        prepared = (task.validation_split if validation else task.prepare)(options, seed, source)
    capacity = task.chip_check_capacity(prepared, config)
    if check_backend is not None and capacity is not None and check_inputs > capacity:
        raise ValueError(f"check_inputs={check_inputs}: the chip check has {capacity} inputs")
    calib = task.calibration(prepared, config, seed)
    reads = task.compile_reads()
    restorer = task.restore_stage(prepared, calib, seed, reads) if restore else None
    try:
        trained = task.train(prepared, config, restorer)
        seconds = {"float_flow": time.perf_counter() - start}
        t0 = time.perf_counter()
        evaluator = task.evaluator(prepared, config, trained, calib)
        stages = task.chip_stages(config)
        unlearn_adapter = stages[1][1][0]
        if restorer is not None:
            stages = restorer.stages(stages)
        compiled, deployed = measure_on_chip(trained.models, stages, calib, evaluator, seed,
                                             progress, restorer, reads,
                                             task.scale_free(config))
        seconds["chip_eval"] = time.perf_counter() - t0
    finally:
        if restorer is not None:
            restorer.close()
    cost = flow_costs(trained.costs, deployed, compiled.adapter_bytes(unlearn_adapter),
                      compiled, cost_table)
    summary = task.summarize(Run(options, seed, config, prepared, trained, evaluator, calib,
                                 compiled, deployed, cost, check_backend, restorer))
    if restorer is not None:
        summary["restore"] = restorer.summary(compiled)

    if check_backend is not None:
        t0 = time.perf_counter()
        inputs = evaluator.check_inputs(check_inputs)
        if progress:
            print(f"[{task.name}] chip check: {len(inputs)} inputs on {check_backend} and on "
                  f"the golden chip...", flush=True)
        summary["chip_check"] = chip_check(compiled, inputs, list(stages[-1][1]), seed,
                                           backend=check_backend)
        seconds["chip_check"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    summary["seconds"] = seconds
    summary["targets"] = task.targets.check(summary)
    return summary
