"""Behavioural ReRAM macro model (1T1R crossbar): programming, verify, MVM, counters.

See `macro` for the determinism contract with the RTL bench and the golden model.
"""

from rmlora.contract.macro import (
    GRID_PER_WEIGHT_UNIT,
    MacroConfig,
    weight_to_target_code,
    weight_to_target_us,
)

from .array import ACTIVITY_COUNTS, MacroArray
from .counter_rng import GAUSS_TABLE, Kind, gaussian, hash_words, key_prefix, uniform
from .device import AMPLITUDE_CODES, WIDTH_CODES, CellStatics, Polarity, eta_table
from .energy import ENERGY_180NM, EnergyTable, MacroCounters
from .macro import ReramMacro
from .write_verify import WriteVerifyResult, write_verify_cell

__all__ = [
    "ACTIVITY_COUNTS", "MacroArray",
    "GRID_PER_WEIGHT_UNIT", "MacroConfig", "GAUSS_TABLE", "Kind", "gaussian", "hash_words",
    "key_prefix", "uniform", "AMPLITUDE_CODES", "WIDTH_CODES", "CellStatics", "Polarity",
    "eta_table", "ENERGY_180NM", "EnergyTable", "MacroCounters", "ReramMacro",
    "weight_to_target_code", "weight_to_target_us", "WriteVerifyResult", "write_verify_cell",
]
