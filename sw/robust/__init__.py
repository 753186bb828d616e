"""Device non-idealities: Monte Carlo robustness, fault handling, LoRA compensation.

    setup = prepare("face")                       # flow + hardware-aware network
    summary = sweep(setup, conditions(noise="2,4"), runs=20, workers=2)

A run deploys a network on a fresh golden chip under one condition (programming
noise, stuck cells, time since programming), reads the weights back through the
chip's MVMs, fits a compensation adapter to the error and loads it into SRAM.
"""

from rmlora.sw.robust.conditions import NOMINAL, Condition, conditions, parse_levels
from rmlora.sw.robust.run import RunSpec, run_one
from rmlora.sw.robust.setup import Setup, prepare
from rmlora.sw.robust.sweep import execute, specs_for, summarize, sweep

__all__ = ["NOMINAL", "Condition", "conditions", "parse_levels", "RunSpec", "run_one", "Setup",
           "prepare", "execute", "specs_for", "summarize", "sweep"]
