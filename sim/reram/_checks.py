"""Argument checks shared by the macro model: each error names the argument."""

import numpy as np

from rmlora.contract.checks import as_int, as_int_array

__all__ = ["as_int", "as_int_array", "check_weights", "check_planes", "check_unique_cells"]


def check_weights(weights, w_max: int, row0: int, col0: int, rows: int, cols: int):
    w = np.asarray(weights)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"weights: must be a non-empty 2-D array, got shape {w.shape}")
    w = as_int_array("weights", w, -w_max, w_max)
    row0 = as_int("row0", row0, 0, rows - 1)
    col0 = as_int("col0", col0, 0, cols - 1)
    if row0 + w.shape[0] > rows or col0 + w.shape[1] > cols:
        raise ValueError(f"weights of shape {w.shape} at (row0={row0}, col0={col0}) do "
                         f"not fit the {rows}x{cols} array")
    return w, row0, col0


def check_planes(planes, rows: int, row0: int) -> np.ndarray:
    p = np.asarray(planes)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"planes: must be a non-empty 2-D array (B, n_rows), got shape "
                         f"{p.shape}")
    if p.dtype.kind not in "biu":
        raise ValueError(f"planes: must be -1/0/1 integers or bools, got dtype {p.dtype}")
    if row0 + p.shape[1] > rows:
        raise ValueError(f"planes: {p.shape[1]} rows from row0={row0} exceed the "
                         f"{rows} rows of the array")
    if p.dtype.kind != "b" and (p.max() > 1 or (p.dtype.kind == "i" and p.min() < -1)):
        raise ValueError("planes: bit-planes must contain only -1, 0 and 1 (row driven at "
                         "-V_read, 0 V, +V_read)")
    return p


def check_unique_cells(r: np.ndarray, c: np.ndarray, cols: int):
    """Refuse two operations on one cell in one vectorised call (order would matter)."""
    if r.size > 1 and np.unique(r * cols + c).size != r.size:
        raise ValueError("row/col: a vectorised call must not address a cell twice")
