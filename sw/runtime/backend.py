"""What a backend of the runtime answers, whatever runs the chip, and the registry of
backends by name.

`Chip` talks to its backend only through `Backend`; a new backend is one module that
implements it and calls `register_backend` when imported (rmlora.sw.runtime imports
the built-in ones), so the runtime, the CLI's `--backend` and the tests find it by
name without an if/else anywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig

__all__ = ["Backend", "BackendSpec", "BACKENDS", "ProgramResult", "RunResult",
           "backend_spec", "register_backend"]


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


class Backend(Protocol):
    """Exactly what `Chip` calls: the host bus (SRAM by byte offset), write-verify of one
    block, B runs of a layer program, and the macros' state and counters."""

    name: str

    def write_sram(self, offset: int, data: bytes) -> None: ...

    def read_sram(self, offset: int, length: int) -> bytes: ...

    def program(self, desc, targets, on_chip: bool, scratch_word: int) -> ProgramResult: ...

    def run(self, prog_addr: int, enabled: int, inputs: dict[int, np.ndarray],
            reads: dict[int, int]) -> RunResult: ...

    def mvm_ops(self) -> list[int]: ...

    def activity(self) -> dict: ...

    def set_time(self, seconds: float) -> None: ...

    def conductance(self, macro: int) -> np.ndarray: ...

    def stuck_cells(self, macro: int) -> np.ndarray: ...

    def close(self) -> None: ...


BackendFactory = Callable[[ChipParams, MacroConfig | None, int], Backend]


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: how to make one (params, macro_config, seed), and whether it
    is slow (a cosimulation: minutes to build, ~10^4-10^5 cycles/s), so that a CLI can
    warn before it starts one."""

    name: str
    factory: BackendFactory
    slow: bool
    summary: str


_REGISTRY: dict[str, BackendSpec] = {}
# name -> BackendSpec, read-only; iterating or `in` gives the registered names
BACKENDS = MappingProxyType(_REGISTRY)


def register_backend(name: str, factory: BackendFactory, *, slow: bool = False,
                     summary: str = "") -> BackendSpec:
    """Make `Chip(backend=name)` use `factory`; a name is registered once."""
    if not name or not name.isidentifier():
        raise ValueError(f"backend name {name!r}: must be a non-empty identifier")
    if name in _REGISTRY:
        raise ValueError(f"backend {name!r} is already registered")
    spec = _REGISTRY[name] = BackendSpec(name, factory, slow, summary)
    return spec


def backend_spec(name: str) -> BackendSpec:
    """The registered backend `name`; a ValueError listing the registered ones if none."""
    if name not in _REGISTRY:
        raise ValueError(f"backend {name!r}: choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
