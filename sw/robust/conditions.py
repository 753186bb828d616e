"""Device conditions of a robustness sweep: programming noise, stuck-at rate, time.

Each sweep varies one non-ideality from the nominal macro (write-verify residual
and 1 % read noise only): programming error std in uS (the paper sweeps 1-10,
arXiv 2601.10037), the stuck-at rate in percent (0.1-2 % typical, architecture
brief), or the time since programming (drift grows with log time, MacroConfig).
A level keeps the text it was given on the command line as its key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rmlora.contract.macro import MacroConfig
from rmlora.sw.units import parse_seconds

__all__ = ["Condition", "NOMINAL", "MAX_NOISE_US", "parse_levels", "parse_seconds",
           "conditions"]

KINDS = ("noise", "stuck", "drift")
# The largest programming error a noise level (or hardware-aware training) may have.
MAX_NOISE_US = 50.0


@dataclass(frozen=True)
class Condition:
    """One point of a sweep; ``kind`` is "nominal", "noise", "stuck" or "drift"."""

    kind: str
    label: str
    noise_us: float = 0.0
    stuck_pct: float = 0.0
    seconds: float = 0.0

    def macro_config(self, base: MacroConfig) -> MacroConfig:
        """``base`` with this condition's programming error and stuck cells; stuck cells
        are split evenly between stuck-at-0 (g_min) and stuck-at-1 (g_max)."""
        rate = self.stuck_pct / 100.0
        return dataclasses.replace(base, program_error_std_us=self.noise_us,
                                   sa0_rate=rate / 2, sa1_rate=rate / 2)


NOMINAL = Condition("nominal", "nominal")


def parse_levels(kind: str, text: str) -> list[Condition]:
    """The comma-separated levels of one sweep, e.g. ("noise", "1,2,4")."""
    if kind not in KINDS:
        raise ValueError(f"sweep {kind!r}: choose one of {', '.join(KINDS)}")
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if len(set(labels)) != len(labels):
        raise ValueError(f"--{kind} {text!r}: a level is repeated")
    out = []
    for label in labels:
        if kind == "drift":
            out.append(Condition(kind, label, seconds=parse_seconds(label)))
            continue
        try:
            value = float(label)
        except ValueError:
            raise ValueError(f"--{kind} level {label!r} is not a number") from None
        top = MAX_NOISE_US if kind == "noise" else 100.0
        if not 0.0 <= value <= top:
            raise ValueError(f"--{kind} level {label!r} outside [0, {top:g}]"
                             + (" uS" if kind == "noise" else " %"))
        out.append(Condition(kind, label, noise_us=value) if kind == "noise"
                   else Condition(kind, label, stuck_pct=value))
    return out


def conditions(noise: str = "", stuck: str = "", drift: str = "") -> list[Condition]:
    """The nominal condition, then every level of every sweep given (empty: skipped)."""
    out = [NOMINAL]
    for kind, text in (("noise", noise), ("stuck", stuck), ("drift", drift)):
        if text:
            out += parse_levels(kind, text)
    return out
