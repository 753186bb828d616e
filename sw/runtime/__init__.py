"""The host runtime: one Chip API over interchangeable backends (golden, Verilator,
Icarus), and host inference of compiled networks on it."""

from rmlora.sw.golden.chip import ChipError

from .chip import BACKENDS, Chip, DeployReport, SegmentRun

__all__ = ["BACKENDS", "Chip", "ChipError", "DeployReport", "SegmentRun"]
