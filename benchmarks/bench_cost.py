"""The analytic cost model (issue 22): its calibration on networks of each simulated
task's shape (randomly initialised, run on the golden chip: the largest relative
energy difference with the default activity statistics), and the three folds of the
published networks with the time the projection takes.
"""

import time

from rmlora.sw.compiler import compile_model
from rmlora.sw.cost.calibration import calibrate
from rmlora.sw.cost.flow import _inference
from rmlora.sw.cost.published import MODELS, project
from rmlora.sw.cost.table import table_for
from rmlora.sw.learn.on_chip import measure_inference
from rmlora.sw.models.demo import demo_inputs
from rmlora.sw.runtime import Chip
from tests.sw.test_cost_analytic import task_shaped_network

FOLDS = ("training_fold", "deployment_fold", "inference_energy_fold")


def _calibration(task: str, table) -> float:
    model, calib = task_shaped_network(task)
    compiled = compile_model(model, calib)
    chip = Chip(compiled.params, seed=1)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    inputs = demo_inputs("face", 3, 0) if task == "face" else calib[:3]
    measured = measure_inference(chip, compiled, inputs, list(compiled.adapter_slots))
    check = calibrate(compiled, measured, _inference(compiled, measured, table), table)
    if not all(v["equal"] for v in check["exact"].values()):
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
