"""Analogue path: MVM cycles against the analytic count, write-verify pulses per cell
against the macro model's expectation, and cosimulation speed with the macros attached.

The analytic MVM count, per column tile c and row tile r of a layer:
    prologue (1 + 2 * descriptor words + 1)
    + sum_c [ 1 + sum_r ( ceil(rows_r / word bytes) + 1 + 8 * (1 + MVM latency) )
              + ceil(4 * cols_c / word bytes) ]
i.e. bit planes x conversions x tiles plus a fixed overhead for loading inputs and
writing accumulators. The model's expectation of write-verify pulses comes from the
golden (vectorised) write-verify of a whole 128x128 macro of random weights.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.xbar import XbarOp
from rmlora.hw.build import TOP_NAME, write_verilog
from rmlora.sim.cosim import REPO_ROOT, run_on_chip
from rmlora.sim.reram import MacroArray
from rmlora.sw.formats.xbar import Descriptor
from rmlora.sw.golden import xbar as golden

HERE = Path(__file__).resolve().parent


def model_expectation(params: ChipParams) -> dict:
    macros = MacroArray(params, seed=1)
    cfg = macros[0].config
    w = np.random.default_rng(1).integers(-cfg.w_max, cfg.w_max + 1,
                                          (params.macro_rows, params.macro_cols))
    desc = Descriptor(XbarOp.PROGRAM, params.macro_rows, params.macro_cols, src=0,
                             dst=0, tolerance=cfg.verify_tolerance_codes, max_pulses=60)
    result, failed, _ = golden.program(desc, macros[0].weight_to_target_code(w), macros)
    pulses = (result & 0x7F).astype(float)
    return {"write_verify_pulses_model_mean": float(pulses.mean()),
            "write_verify_pulses_model_p99": float(np.percentile(pulses, 99)),
            "write_verify_model_failed_cells": failed}


def analogue_error(params: ChipParams, batch: int = 256) -> dict:
    """Relative RMS error of the chip's MVM (golden = RTL, bit for bit) against the ideal
    integer matmul x @ W, for a 128x128 layer of uniform random int8 weights programmed
    with the statistical write-verify outcome, 1 % read noise, at several ADC gains."""
    rng = np.random.default_rng(2)
    figures = {}
    for gain in (2, 4, 6):
        macros = MacroArray(params, seed=2)
        w = rng.integers(-127, 128, (params.macro_rows, params.macro_cols))
        macros[0].program_statistical(w)
        x = rng.integers(-128, 128, (batch, params.macro_rows)).astype(np.int8)
        desc = Descriptor(XbarOp.MVM, params.macro_rows, params.macro_cols, src=0,
                                 dst=0, gain_shift=gain)
        acc, _ = golden.mvm(desc, x, macros)
        ideal = x.astype(np.int64) @ w
        err = np.sqrt(np.mean((acc - ideal) ** 2)) / np.sqrt(np.mean(ideal.astype(float) ** 2))
        figures[f"mvm_rel_rms_error_gain{gain}"] = float(err)
    return figures


def run() -> dict:
    params = ChipParams()
    verilog = write_verilog(REPO_ROOT / "build" / "verilog", params, only={TOP_NAME})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "xbar.json"
        run_on_chip(verilog, "tb_bench_xbar", sim="verilator",
                   python_search=[HERE, REPO_ROOT], extra_env={"RMLORA_BENCH_JSON": str(out)})
        figures = json.loads(out.read_text())
    figures.update(model_expectation(params))
    figures.update(analogue_error(params))
    return figures
