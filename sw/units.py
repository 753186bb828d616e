"""Units in command-line labels, shared by the robustness sweep that takes them and the
report that plots them."""

import math

__all__ = ["parse_seconds"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0,
          "y": 365.25 * 86400.0}


def parse_seconds(text: str) -> float:
    """'1s', '30m', '1h', '1d', '2w', '1y' (or a bare number of seconds) to seconds."""
    text = text.strip()
    unit = text[-1:].lower()
    number = text[:-1] if unit in _UNITS else text
    try:
        value = float(number) * _UNITS.get(unit, 1.0)
    except ValueError:
        raise ValueError(f"time {text!r}: give a number with s, m, h, d, w or y") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"time {text!r}: must be finite and >= 0")
    return value
