"""Write-verify per cell, from the macro model: what programming a network costs.

    first, again = measure_write_verify()      # fresh cells; then a trained state moved
    cost = again.cost(cells, table)

Pulses and verify reads per cell are not a constant: they come from running the
golden model's write-verify (golden.xbar.program, the RTL's algorithm, cycle-exact)
on the ReRAM macro model (rmlora.sim.reram), on a sample block, twice: from fresh
cells to trained weights (first programming), then from that state to the weights
a full fine-tune leaves (reprogramming). Or from a deploy report of a simulated
task (``WriteVerifyStats.from_report``).

Weights: Gaussian, quantized symmetrically to int8 by their largest magnitude as the
compiler does (compiler.quantize: quant.symmetric_scale). The fine-tune's change
per weight is Gaussian too, ``change_std`` int8 codes: an assumption, set by default
(REPROGRAM_CHANGE_STD) to the value at which the sample reproduces the pulses per
cell the simulated flows' full fine-tunes measured (README, "At the published scale").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig, weight_to_target_code
from rmlora.contract.xbar import MacroOp, XbarOp
from rmlora.sim.reram import MacroArray
from rmlora.sw.formats.xbar import Descriptor
from rmlora.sw.golden import xbar as gxbar

from .table import OpTable

__all__ = ["WriteVerifyStats", "measure_write_verify", "REPROGRAM_CHANGE_STD"]

# int8 codes of the fine-tune's weight change (std), fitted so that the sample's
# reprogramming takes the pulses per cell the three flows' full fine-tunes measured on
# average: face 1.99, speaker 3.66, diffusion 2.79, mean 2.81 (`rmlora cost TASK`,
# 2026-12-01, defaults, seed 0); 12 codes give 2.81 on the default sample.
REPROGRAM_CHANGE_STD = 12.0


@dataclass(frozen=True)
class WriteVerifyStats:
    """Write-verify per programmed cell: pulses, verify reads, the controller's cycles,
    and the mean energy of one pulse and one verify read (the macro model's)."""

    pulses_per_cell: float
    verifies_per_cell: float
    cycles_per_cell: float
    pulse_j: float
    verify_j: float
    source: str

    def __post_init__(self):
        if not (self.pulses_per_cell >= 0 and self.verifies_per_cell >= 1
                and self.cycles_per_cell > 0 and self.pulse_j >= 0 and self.verify_j > 0):
            raise ValueError(f"write-verify stats out of range: {self}")

    @classmethod
    def from_report(cls, report: dict, source: str) -> WriteVerifyStats:
        """A deploy report's figures per cell (learn.on_chip.deploy)."""
        cells = report["cells"]
        return cls(report["pulses"] / cells, report["verify_reads"] / cells,
                   report["cycles"] / cells, report["pulse_j"] / max(report["pulses"], 1),
                   report["verify_j"] / report["verify_reads"], source)

    def scaled(self, factor: float) -> WriteVerifyStats:
        """The same cells with ``factor`` times the pulses (and the verify read after each)."""
        extra = self.pulses_per_cell * (factor - 1)
        return WriteVerifyStats(self.pulses_per_cell + extra, self.verifies_per_cell + extra,
                                self.cycles_per_cell * (1 + extra / max(self.verifies_per_cell,
                                                                         1)),
                                self.pulse_j, self.verify_j, f"{self.source}, x{factor:g} pulses")

    def cost(self, cells: int, table: OpTable) -> dict:
        """Programming ``cells`` cells: counts, energy, and time at the table's clock (the
        pulse and verify waits are analogue time; one cell at a time, as the RTL does)."""
        pulses, verifies = self.pulses_per_cell * cells, self.verifies_per_cell * cells
        return {"cells": cells, "pulses": pulses, "verify_reads": verifies,
                "pulse_energy_j": pulses * self.pulse_j,
                "verify_energy_j": verifies * self.verify_j,
                "energy_j": pulses * self.pulse_j + verifies * self.verify_j,
                "time_s": table.time_s(self.cycles_per_cell * cells,
                                       {MacroOp.PULSE: pulses, MacroOp.VERIFY: verifies}),
                "source": self.source}


def _program(macros: MacroArray, weights: np.ndarray, source: str) -> WriteVerifyStats:
    cfg = macros[0].config
    rows, cols = weights.shape
    desc = Descriptor(XbarOp.PROGRAM, rows, cols, 0, 0,
                      tolerance=cfg.verify_tolerance_codes)
    before = macros.activity()
    _, _, counts = gxbar.program(desc, weight_to_target_code(cfg, weights), macros)
    after = macros.activity()
    return WriteVerifyStats.from_report(
        {"cells": rows * cols, "pulses": counts.pulses, "verify_reads": counts.verify,
         "cycles": counts.cycles, "pulse_j": after["pulse_j"] - before["pulse_j"],
         "verify_j": after["verify_j"] - before["verify_j"]}, source)


def measure_write_verify(change_std: float = REPROGRAM_CHANGE_STD, seed: int = 0,
                         rows: int = 64, cols: int = 64,
                         params: ChipParams = ChipParams()
                         ) -> tuple[WriteVerifyStats, WriteVerifyStats]:
    """(first programming, reprogramming) per cell on a rows x cols sample block of one
    macro model (seeded): Gaussian weights quantized by their largest magnitude, then
    the same weights plus a Gaussian change of ``change_std`` codes."""
    if not change_std >= 0:
        raise ValueError(f"change_std={change_std}: must be >= 0 (int8 codes)")
    rng = np.random.default_rng(seed)
    cfg = MacroConfig.for_chip(params)
    w = rng.standard_normal((rows, cols))
    trained = np.rint(w / np.abs(w).max() * cfg.w_max).astype(np.int64)
    moved = np.clip(trained + np.rint(rng.normal(0.0, change_std, trained.shape)),
                    -cfg.w_max, cfg.w_max).astype(np.int64)
    macros = MacroArray(ChipParams(**(vars(params) | {"n_macros": 1})), cfg, seed=seed)
    first = _program(macros, trained, f"macro model, {rows}x{cols} Gaussian int8 weights "
                                      f"from fresh cells (seed {seed})")
    again = _program(macros, moved, f"macro model, the same cells moved by N(0, "
                                    f"{change_std:g}) codes (seed {seed})")
    return first, again
