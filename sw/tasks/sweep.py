"""A sweep: one task over seeded random choices of its options (classes, digits,
styles) and flow seeds; every choice's figures, their mean, worst and best, and in
how many choices each target is met.

    sweep = run_sweep(TASKS["speaker"], choices=10, seed=0, workers=2)

The choices come from ``task.random_options`` (never the default choice), each with
its own flow seed, all drawn from one generator seeded with ``seed``: a sweep is
reproducible from ``seed`` alone. Each choice runs the shared pipeline (run_task) on
the golden chip with single-threaded torch, inline or in a process pool; results
come back in choice order, so the sweep is the same whichever number of workers ran
it. The figures are the targets' values (their bound says which way is better) and
the task's ``sweep_figures``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import numbers
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .pipeline import run_task
from .registry import task_named
from .targets import lookup
from .task import Figure, Task

__all__ = ["FLOW_SEEDS", "draw_choices", "figures_of", "read_figure", "choice_record",
           "aggregate", "targets_met_in", "run_choice", "run_sweep"]

FLOW_SEEDS = (1, 10_000)  # a choice's flow seed: 1..9999 (seed 0 is the default flow's)
# which way a target's value is better, by its rule; an == target (a flag such as
# the chip check's bit_exact) is counted as met or not, it is no figure
BETTER_BY_RULE = {">=": "high", "<=": "low", "abs<=": "zero"}

# runner(task name, options, flow seed, check backend, restore, validation) -> the
# run's summary
Runner = Callable[[str, Any, int, str | None, bool, bool], dict]


def draw_choices(task: Task, choices: int, seed: int) -> list[tuple[Any, int]]:
    """``choices`` (options, flow seed) pairs, drawn in turn from one generator."""
    if choices < 1:
        raise ValueError(f"choices must be >= 1, got {choices}")
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(choices):
        options = task.random_options(rng)
        drawn.append((options, int(rng.integers(*FLOW_SEEDS))))
    return drawn


def figures_of(task: Task) -> list[Figure]:
    """The figures a sweep of ``task`` reports: its targets' values, then its own
    ``sweep_figures``; each summary key once (the first one declared)."""
    figures: dict[str, Figure] = {}
    for key, bound in task.targets.bounds():
        if bound.rule in BETTER_BY_RULE:
            figures[key] = Figure(key, BETTER_BY_RULE[bound.rule])
    for figure in task.sweep_figures:
        figures.setdefault(figure.key, figure)
    return list(figures.values())


def read_figure(summary: dict, figure: Figure) -> float:
    """``figure``'s value in ``summary``; a KeyError naming the key if the summary has
    none (a task whose figures and summary disagree), never a silent NaN."""
    key = figure.least_of or figure.key
    try:
        value = lookup(summary, key)
    except (KeyError, IndexError, TypeError):
        raise KeyError(f"figure {figure.key!r}: the {summary.get('task', 'task')} summary "
                       f"has no value {key!r}") from None
    if figure.least_of is not None:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"figure {figure.key!r}: {key!r} should be a list of numbers, "
                             f"got {value!r}")
        value = min(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"figure {figure.key!r}: {key!r} is {value!r}, not a number")
    return float(value)


def _jsonable(options) -> dict:
    return dataclasses.asdict(options) if dataclasses.is_dataclass(options) else vars(options)


def choice_record(task: Task, figures: list[Figure], options, seed: int,
                  summary: dict) -> dict:
    """One choice of a sweep: its options, flow seed, figures and targets (met: True or
    False; None: not run, as the chip check's when no cosimulation backend ran)."""
    return {
        "options": _jsonable(options),
        "choice": task.describe(options),
        "seed": seed,
        "figures": {f.key: read_figure(summary, f) for f in figures},
        "targets": {t["key"]: None if t["value"] is None else t["met"]
                    for t in summary["targets"]},
        "seconds": summary["seconds"]["total"],
    }


def aggregate(records: list[dict], figures: list[Figure]) -> dict:
    """{figure: {mean, worst, best, better}} over the choices; worst is the minimum of a
    figure where high is better, the maximum where low is, the largest |x| where zero
    is (its signed value)."""
    out = {}
    for figure in figures:
        values = np.array([r["figures"][figure.key] for r in records], dtype=np.float64)
        goodness = {"high": values, "low": -values, "zero": -np.abs(values)}[figure.better]
        out[figure.key] = {"mean": float(values.mean()),
                           "worst": float(values[np.argmin(goodness)]),
                           "best": float(values[np.argmax(goodness)]),
                           "better": figure.better}
    return out


def targets_met_in(records: list[dict]) -> dict[str, str]:
    """{target key: "met/measured"} over the choices; a target no choice measured (not
    run) is left out."""
    out = {}
    for key in records[0]["targets"]:
        measured = [r["targets"][key] for r in records if r["targets"][key] is not None]
        if measured:
            out[key] = f"{sum(measured)}/{len(measured)}"
    return out


def run_choice(task_name: str, options, seed: int, check_backend: str | None,
               restore: bool = True, validation: bool = False) -> dict:
    """One choice through the shared pipeline with single-threaded torch and BLAS (two
    workers share two cores; one thread each also keeps the numbers the same in or out
    of a pool); the summary. Looks the task up by name: a worker has only the registry."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return run_task(task_named(task_name), options, seed, check_backend,
                            restore=restore, validation=validation)
    finally:
        torch.set_num_threads(threads)


def run_sweep(task: Task, choices: int, seed: int, workers: int = 1,
              check_backend: str | None = None, progress: bool = False,
              runner: Runner = run_choice, restore: bool = True,
              validation: bool = False) -> dict:
    """Run ``task`` over ``choices`` random choices drawn with ``seed``, on ``workers``
    processes (1: inline); the sweep (see the README's Sweeps). check_backend: None
    (default) measures everything on the golden chip and skips the chip check, which
    is not what a sweep measures. restore: run the flows' restore stage (False: the
    flows without it, for comparison). validation: every choice on the task's
    validation split (choosing a recipe; never on test inputs). runner: runs one
    choice (tests pass their own; with workers > 1 it must be a module-level
    function)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    start = time.perf_counter()
    drawn = draw_choices(task, choices, seed)
    figures = figures_of(task)
    records: list[dict] = []

    def collect(summaries):
        for (options, flow_seed), summary in zip(drawn, summaries, strict=True):
            record = choice_record(task, figures, options, flow_seed, summary)
            records.append(record)
            if progress:
                met = [m for m in record["targets"].values() if m is not None]
                missed = [k for k, m in record["targets"].items() if m is False]
                print(f"[sweep] {task.name} choice {len(records)}/{len(drawn)}: "
                      f"{record['choice']}, seed {flow_seed}: {sum(met)} of {len(met)} "
                      f"targets met{' (not: ' + ', '.join(missed) + ')' if missed else ''} "
                      f"({record['seconds']:.0f} s)", flush=True)

    args = [[task.name] * len(drawn), [o for o, _ in drawn], [s for _, s in drawn],
            [check_backend] * len(drawn), [restore] * len(drawn),
            [validation] * len(drawn)]
    if workers == 1:
        collect(map(runner, *args))
    else:
        # spawned: no torch state inherited; results in submission order
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(drawn)), mp_context=context) as pool:
            collect(pool.map(runner, *args))
    return {
        "task": task.name,
        "seed": seed,
        "check_backend": check_backend,
        "restore": restore,
        "validation": validation,
        "workers": workers,
        "choices": records,
        "aggregate": aggregate(records, figures),
        "target_rules": {key: f"{b.rule} {b.bound}" for key, b in task.targets.bounds()},
        "targets_met_in": targets_met_in(records),
        "seconds": {"total": time.perf_counter() - start},
    }
