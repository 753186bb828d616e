"""Refusing bad data at load time, with the file and the reason in the message.

A damaged file otherwise surfaces as whatever the parser happens to raise
(``OSError``, scipy's ``MatReadError``, ``zlib.error``, ``struct.error``), none naming
the file, and NaN or constant images train for minutes before failing with a message
about something else. Every reader raises ``DatasetError`` instead, before any use.
"""

from __future__ import annotations

import os

import numpy as np


class DatasetError(ValueError):
    """A data file that cannot be used as it is; the message names it and says why."""


def check_samples(samples: np.ndarray, source: str | os.PathLike, shape: tuple[int, ...],
                  what: str = "image") -> None:
    """``samples`` is (N, *shape) of real numbers, all finite, none constant.

    A constant sample (every pixel or every audio sample equal) carries no information
    and, in the min-max or peak normalisations downstream, divides by zero."""
    if not (np.issubdtype(samples.dtype, np.integer) or np.issubdtype(samples.dtype, np.floating)):
        raise DatasetError(f"{source}: {what}s are {samples.dtype}, not real numbers")
    if samples.ndim != len(shape) + 1 or samples.shape[1:] != shape or len(samples) == 0:
        raise DatasetError(f"{source}: expected {what}s of shape (N, "
                           f"{', '.join(map(str, shape))}), got {samples.shape}")
    flat = samples.reshape(len(samples), -1)
    if np.issubdtype(samples.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
        if bad.size:
            raise DatasetError(f"{source}: {bad.size} {what}(s) hold NaN or infinite values "
                               f"(first: {what} {bad[0]})")
    constant = np.flatnonzero(flat.min(axis=1) == flat.max(axis=1))
    if constant.size:
        raise DatasetError(f"{source}: {constant.size} {what}(s) are constant "
                           f"(first: {what} {constant[0]})")
