"""A robustness sweep: Monte Carlo runs over conditions, executed anywhere, summarised.

The runs go to any ``concurrent.futures.Executor``: a process pool on this machine
(``workers``), or a Dask cluster's (``distributed.Client(address).get_executor()``),
so one code path serves both and no scheduler is written here. Results come back in
submission order, and each run's numbers depend only on its seed, so the summary is
the same whichever executor ran it.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor

import numpy as np
from tqdm import tqdm

from .conditions import Condition
from .run import RunSpec, run_one
from .setup import Setup

__all__ = ["specs_for", "execute", "summarize", "aihwkit_predictions", "sweep"]


def specs_for(setup: Setup, conditions: list[Condition], runs: int) -> list[RunSpec]:
    """Every run: the plain network under every condition; the hardware-aware one under
    the nominal and the noise conditions (it was trained against programming noise)."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    specs = []
    for name in setup.deployments:
        for condition in conditions:
            if name == "plain" or condition.kind in ("nominal", "noise"):
                specs += [RunSpec(name, condition, run) for run in range(runs)]
    return specs


def execute(setup: Setup, specs: list[RunSpec], workers: int = 1,
            executor: Executor | None = None, progress: bool = False) -> list[dict]:
    """Run ``specs``: on ``executor`` if given, else in a pool of ``workers`` processes
    (spawned: no state inherited), else inline."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    bar = tqdm(total=len(specs), desc="runs", disable=not progress, leave=False)

    def collect(results: Iterable[dict]) -> list[dict]:
        out = []
        for result in results:
            out.append(result)
            bar.update()
        bar.close()
        return out

    setups = [setup] * len(specs)  # lists: Dask's executor takes no lazy iterables
    if executor is not None:
        return collect(executor.map(run_one, setups, specs))
    if workers == 1:
        return collect(run_one(setup, spec) for spec in specs)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return collect(pool.map(run_one, setups, specs))


def _stats(values: list[float], worst) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "worst": float(worst(v))}


# (result key, metric, summary name, worst) of every statistic a level reports
_METRICS = [
    ("deployed", "pretrained_acc", "deployed", np.min),
    ("compensated", "pretrained_acc", "compensated", np.min),
    ("adapters_compensated", "forget_acc", "forget_acc", np.max),
    ("adapters_compensated", "old_acc", "old_acc", np.min),
    ("adapters_compensated", "new_acc", "new_acc", np.min),
    ("adapters", "forget_acc", "forget_acc_uncompensated", np.max),
    ("adapters", "old_acc", "old_acc_uncompensated", np.min),
    ("adapters", "new_acc", "new_acc_uncompensated", np.min),
]


def _level(results: list[dict]) -> dict:
    """Means at the top (the sweep's headline numbers), spread and worst case in stats."""
    entry, stats = {}, {}
    for key, metric, name, worst in _METRICS:
        values = [r[key][metric] for r in results if key in r]
        if values:
            stats[name] = _stats(values, worst)
            entry[name] = stats[name]["mean"]
    for name in ("failed_cells", "weight_error_rms", "output_error_left"):
        entry[name] = float(np.mean([r[name] for r in results]))
    entry["compensation_bytes"] = results[0]["compensation_bytes"]
    return entry | {"runs": len(results), "stats": stats}


def summarize(setup: Setup, results: list[dict], predictions: dict | None = None) -> dict:
    """The sweep's JSON: noiseless_acc and by_noise / by_stuck / by_drift, each level
    {"deployed", "compensated", "forget_acc", ...: means; "stats": mean, std, worst},
    with the hardware-aware network's and aihwkit's numbers beside the noise levels."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["deployment"], r["kind"], r["label"]), []).append(r)
    nominal = _level(groups[("plain", "nominal", "nominal")])
    out = {"task": setup.task, "seed": setup.seed,
           "runs": len(groups[("plain", "nominal", "nominal")]),
           "compensation_rank": setup.rank,
           "hwa_noise_us": None if setup.hwa is None else setup.hwa.noise_std_us,
           "noiseless_acc": nominal["deployed"], "noiseless": nominal}
    if ("hwa", "nominal", "nominal") in groups:
        out["noiseless_hwa"] = _level(groups[("hwa", "nominal", "nominal")])
    for kind in ("noise", "stuck", "drift"):
        by = {}
        for (name, k, label), rs in groups.items():
            if name == "plain" and k == kind:
                by[label] = _level(rs)
        for label, entry in by.items():
            if ("hwa", kind, label) in groups:
                entry["hwa"] = _level(groups[("hwa", kind, label)])
            if predictions and kind == "noise":
                entry["aihwkit"] = predictions[label]
        if by:
            out[f"by_{kind}"] = by
    return out


def aihwkit_predictions(setup: Setup, conditions: list[Condition], runs: int) -> dict:
    """aihwkit-lightning's own prediction at each noise level, per network: mean and std
    of its Monte Carlo accuracies on the same evaluation set and classes."""
    import torch

    from rmlora.sw.learn.hwa import predicted_accuracy
    x, y = torch.from_numpy(setup.x), torch.from_numpy(setup.y)
    out = {}
    for condition in conditions:
        if condition.kind != "noise":
            continue
        out[condition.label] = {}
        for name, dep in setup.deployments.items():
            accs = predicted_accuracy(dep.base, x, y, setup.pretrain_classes, condition.noise_us,
                                      dep.compiled.macro_config, runs, setup.seed)
            out[condition.label][name] = float(np.mean(accs))
            out[condition.label][name + "_std"] = float(np.std(accs))
    return out


def sweep(setup: Setup, conditions: list[Condition], runs: int, workers: int = 1,
          executor: Executor | None = None, progress: bool = False) -> dict:
    """Every run, aihwkit's predictions and the summary, with the seconds spent."""
    start = time.perf_counter()
    results = execute(setup, specs_for(setup, conditions, runs), workers, executor, progress)
    seconds = time.perf_counter() - start
    predictions = aihwkit_predictions(setup, conditions, runs)
    summary = summarize(setup, results, predictions)
    summary["seconds"] = {"runs": seconds, "aihwkit": time.perf_counter() - start - seconds}
    summary["results"] = results
    return summary


TARGET_NOISE_US = 4.0  # the level: compensated within 2 points of noiseless
TARGET_DROP = 0.02
TARGET_FORGET = 0.05


def check_robustness(summary: dict) -> list[dict]:
    """The targets, as rows {key, value, rule, met} like the flows' (chip_flow): the
    compensated accuracy at 4 uS within 2 points of the noiseless chip, and the
    forgotten class at most 0.05 (mean over runs) at every noise level swept."""
    rows = []
    by_noise = summary.get("by_noise", {})
    at = [label for label in by_noise if float(label) == TARGET_NOISE_US]
    if at:
        drop = summary["noiseless_acc"] - by_noise[at[0]]["compensated"]
        rows.append({"key": f"by_noise.{at[0]}: noiseless_acc - compensated", "value": drop,
                     "rule": f"<= {TARGET_DROP}", "met": bool(drop <= TARGET_DROP)})
    for label, entry in by_noise.items():
        if "forget_acc" in entry:
            rows.append({"key": f"by_noise.{label}.forget_acc", "value": entry["forget_acc"],
                         "rule": f"<= {TARGET_FORGET}",
                         "met": bool(entry["forget_acc"] <= TARGET_FORGET)})
    return rows
