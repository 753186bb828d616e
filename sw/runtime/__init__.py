"""The host runtime: one Chip API over interchangeable backends (golden, Verilator,
Icarus), and host inference of compiled networks on it."""

from rmlora.sw.golden.chip import ChipError

from .chip import BACKENDS, Chip, DeployReport, SegmentRun
from .network import dequantize_logits, ideal_segment_runner, run_network

__all__ = ["BACKENDS", "Chip", "ChipError", "DeployReport", "SegmentRun", "dequantize_logits",
           "ideal_segment_runner", "run_network"]
