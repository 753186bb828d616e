"""What the golden model needs of the macros it is given.

The golden model does not build macros: its caller passes them in (the golden
backend passes rmlora.sim.reram.MacroArray, the same model that answers the RTL's
macro port in a cosimulation), so the golden model depends on the contract only.
"""

from typing import Protocol

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.xbar import Polarity

__all__ = ["Macros"]


class Macros(Protocol):
    """The chip's macros behind its macro port, with a per-macro MVM operation counter
    (the index that keys each conversion's read noise)."""

    params: ChipParams
    mvm_ops: np.ndarray  # (n_macros,) int64

    def __getitem__(self, index: int):
        """One macro, answering verify_read and mvm as rmlora.sim.reram.ReramMacro does."""

    def pulse(self, macro: int, row, col, polarity: Polarity, amplitude, width):
        """Programming pulses on cells of one macro."""
