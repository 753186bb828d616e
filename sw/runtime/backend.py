"""What a backend of the runtime answers, whatever runs the chip."""

from dataclasses import dataclass, field

import numpy as np

from rmlora.sw.golden.chip import LayerStats

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
    word address, and the per-record SeqStats and PERF_* counters of one run."""

    outputs: dict[int, np.ndarray]
    stats: list[LayerStats]
    perf: dict
    sim_cycles: int = 0  # cosimulation: simulated cycles, bus traffic included
    wall_s: float = 0.0
    extra: dict = field(default_factory=dict)
