"""The host runtime: one Chip API over interchangeable backends (golden, Verilator,
Icarus, or any registered with register_backend), and host inference of compiled
networks on it. BACKENDS maps each registered name to its BackendSpec (`.slow`: a
cosimulation, minutes to build)."""

from rmlora.sw.golden.chip import ChipError

from .backend import BACKENDS, Backend, BackendSpec, backend_spec, register_backend
from .chip import Chip, DeployReport, SegmentRun  # registers "golden"
from .cosim_backend import SimulatorError  # registers "verilator" and "icarus"
from .network import dequantize_logits, ideal_segment_runner, run_network
from .refusals import ChipRefused, UnknownAdapter

__all__ = ["BACKENDS", "Backend", "BackendSpec", "Chip", "ChipError", "ChipRefused",
           "DeployReport", "SegmentRun", "SimulatorError", "UnknownAdapter", "backend_spec",
           "dequantize_logits", "ideal_segment_runner", "register_backend", "run_network"]
