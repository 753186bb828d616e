"""The analytic cost model (issue 22): its calibration on networks of each simulated
task's shape (randomly initialised, run on the golden chip: the largest relative
energy difference with the default activity statistics), and the three folds of the
published networks with the time the projection takes.
"""

import time

from rmlora.sw.cost.published import MODELS, project
from rmlora.sw.cost.sensitivity import FOLDS
from rmlora.sw.cost.table import table_for
from tests.sw.test_cost_analytic import calibrated


def _calibration(task: str, table) -> float:
    check = calibrated(task, table)["lora"]
    if not check["all_exact"]:
        raise AssertionError(f"{task}: analytic counts differ from the chip's")
    return check["max_rel_error"]


def run() -> dict:
    table = table_for()
    out = {f"cost_calibration_max_rel_error_{task}": _calibration(task, table)
           for task in ("face", "speaker", "diffusion")}
    t0 = time.perf_counter()
    for name in MODELS:
        projected = project(name, table)
        key = name.replace("-", "_")
        out.update({f"cost_{key}_{fold}": projected[fold] for fold in FOLDS})
    out["cost_projection_s"] = time.perf_counter() - t0
    return out
