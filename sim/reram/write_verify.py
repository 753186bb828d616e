"""REFERENCE software write-verify of one cell - not the RTL controller's algorithm.

An incremental-step pulse loop in the style of [Wan22] (ED Fig. 3a): read the cell;
if the code is within tolerance of the target, stop; otherwise pulse towards the
target, raising the amplitude by one code for each further pulse in the same
direction and falling back to the start amplitude when the direction reverses
(overshoot). It exists to validate the device model (5-20 pulses typically, never
converging on stuck cells) and as an executable description for the RTL FSM author.

Edge targets: the verify code saturates at 0 and 2**verify_bits - 1 (the code covers
[g_min, g_max] only), so a target within `verify_tolerance_codes` of either end is
accepted anywhere beyond that end of the window; such cells can land a few uS outside
the window. A controller that cares can aim edge weights one tolerance inwards.
"""

from dataclasses import dataclass

from .device import AMPLITUDE_CODES, Polarity

__all__ = ["WriteVerifyResult", "write_verify_cell"]


@dataclass(frozen=True)
class WriteVerifyResult:
    converged: bool
    pulses: int
    verify_reads: int
    final_code: int


def write_verify_cell(macro, row: int, col: int, target_code: int, *,
                      tolerance_codes: int | None = None, max_pulses: int = 60,
                      amp_start: int = 8, width: int = 7) -> WriteVerifyResult:
    """Program cell (row, col) of `macro` until |verify code - target| <= tolerance."""
    tol = macro.config.verify_tolerance_codes if tolerance_codes is None else tolerance_codes
    amp, last, pulses, reads = amp_start, None, 0, 0
    while True:
        code = macro.verify_read(row, col)
        reads += 1
        if abs(code - target_code) <= tol:
            return WriteVerifyResult(True, pulses, reads, code)
        if pulses == max_pulses:
            return WriteVerifyResult(False, pulses, reads, code)
        pol = Polarity.SET if code < target_code else Polarity.RESET
        amp = amp_start if pol != last else min(amp + 1, AMPLITUDE_CODES - 1)
        macro.pulse(row, col, pol, amp, width)
        pulses, last = pulses + 1, pol
