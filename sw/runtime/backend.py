"""What a backend of the runtime answers, whatever runs the chip."""

from dataclasses import dataclass

import numpy as np

__all__ = ["ProgramResult", "RunResult"]


@dataclass
class ProgramResult:
    """One write-verify block: per-cell pulse counts (bit 7: did not converge)."""

    result: np.ndarray
    failed: int
    counts: dict


@dataclass
class RunResult:
    """B runs of a layer program: the buffers read after each run, (B, n) int8 per SRAM
    word address, and the PERF_* counters of one run (the per-record SeqStats are in
    the SRAM, where the runtime reads them for every backend alike)."""

    outputs: dict[int, np.ndarray]
    perf: dict
    sim_cycles: int = 0  # cosimulation: simulated cycles, bus traffic included
    wall_s: float = 0.0
