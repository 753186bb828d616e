"""Integer argument checks shared by the contract's users: each error names the argument."""

import numpy as np

__all__ = ["as_int", "as_int_array"]


def as_int(name: str, value, lo: int, hi: int) -> int:
    """A Python int in [lo, hi] (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}={value!r}: must be an integer in [{lo}, {hi}]")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name}={int(value)}: out of range [{lo}, {hi}]")
    return int(value)


def as_int_array(name: str, value, lo: int, hi: int) -> np.ndarray:
    """An int64 array with every element in [lo, hi]."""
    if type(value) is int and lo <= value <= hi:  # fast path: one cosim transaction
        return np.array(value, dtype=np.int64)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ValueError(f"{name}: values must be in [{lo}, {hi}], "
                         f"got [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)
