"""Counter-based random numbers: a pure function of a key, never a stream.

Every random draw of the macro model is ``hash(seed, macro_id, kind, index...)``, so a
draw does not depend on the order of calls, on batching, or on which other cells or
columns were touched. That is what lets the cocotb bench (one transaction at a time)
and the batched golden model see bit-identical numbers.

The hash chains the splitmix64 finaliser (Steele, Lea, Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014; constants of Stafford's "Mix13"
variant): ``h <- mix(h ^ word)``. The finaliser is a bijection of 64-bit words with
good avalanche, which is all a simulator needs; it is not cryptographic.

Gaussians come from an inverse-CDF table indexed by the top TABLE_BITS bits of a hash.
Only integer operations and one table gather are on the per-element path, so the
result cannot depend on the array length the way SIMD transcendental functions can.
"""

import numpy as np
from scipy.special import ndtri

__all__ = ["Kind", "key_prefix", "hash_words", "uniform", "gaussian", "GAUSS_TABLE",
           "TABLE_BITS", "mix_with"]

MASK64 = (1 << 64) - 1
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB

TABLE_BITS = 12
# Bin centres of the standard normal's quantile function, rescaled to unit variance
# (the centres alone under-represent the tails; |z| <= 3.5 with 4096 bins).
_centres = ndtri((np.arange(1 << TABLE_BITS) + 0.5) / (1 << TABLE_BITS))
GAUSS_TABLE = _centres / np.sqrt(np.mean(_centres * _centres))
GAUSS_TABLE.setflags(write=False)


class Kind:
    """Key word naming what a draw is for; distinct kinds never share numbers."""

    MVM_NOISE = 1       # (op_index, column)
    VERIFY_NOISE = 2    # (row, col, n-th verify of the cell)
    PULSE_NOISE = 3     # (row, col, n-th pulse of the cell)
    RELAX = 4           # (row, col, n-th pulse of the cell)
    STAT_RESIDUAL = 5   # (row, col, n-th statistical programming of the cell)
    STAT_RELAX = 6      # (row, col, n-th statistical programming of the cell)
    FAULT = 7           # (row, col)
    D2D_SET = 8         # (row, col)
    D2D_RESET = 9       # (row, col)
    DRIFT = 10          # (row, col)
    INITIAL = 11        # (row, col)


def _mix_int(x: int) -> int:
    x &= MASK64
    x = ((x ^ (x >> 30)) * _M1) & MASK64
    x = ((x ^ (x >> 27)) * _M2) & MASK64
    return x ^ (x >> 31)


_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_U1, _U2 = np.uint64(_M1), np.uint64(_M2)
_S_TABLE = np.uint64(64 - TABLE_BITS)
_S_UNIFORM = np.uint64(11)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array, in place (wrapping arithmetic)."""
    h ^= h >> _S30
    h *= _U1
    h ^= h >> _S27
    h *= _U2
    h ^= h >> _S31
    return h


def key_prefix(*words: int) -> int:
    """Hash of scalar key words (seed, macro_id, kind, ...), as a Python int."""
    h = 0
    for w in words:
        if not 0 <= w <= MASK64:
            raise ValueError(f"key word {w} outside 0..2**64-1")
        h = _mix_int(h ^ w)
    return h


def hash_words(prefix: int, *words) -> np.ndarray:
    """uint64 hash of prefix chained with broadcast arrays of non-negative integers."""
    if all(np.size(w) == 1 for w in words):  # one cell (a cosimulation's transaction):
        h = prefix                              # Python ints wrap like uint64 here
        for w in words:
            h = _mix_int(h ^ int(np.asarray(w).reshape(-1)[0]))
        return np.array([h], dtype=np.uint64).reshape(np.broadcast_shapes(
            *(np.shape(w) for w in words)) or (1,))
    h = None
    for w in words:
        w = np.asarray(w).astype(np.uint64, copy=False)
        h = np.bitwise_xor(w, np.uint64(prefix)) if h is None else np.bitwise_xor(h, w)
        h = _mix(np.asarray(h, dtype=np.uint64).reshape(np.shape(h) or (1,)))
    if h is None:
        return np.array([prefix], dtype=np.uint64)
    return h


def mix_with(keys: np.ndarray, words: np.ndarray) -> np.ndarray:
    """mix(keys ^ words) as a new uint64 array: one more link of a hash chain."""
    return _mix(np.bitwise_xor(keys, words, dtype=np.uint64))


def uniform(h: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) from the top 53 bits (exact int -> float conversion)."""
    return (h >> _S_UNIFORM).astype(np.float64) * (1.0 / (1 << 53))


def gaussian(h: np.ndarray) -> np.ndarray:
    """Standard-normal floats (tabulated) from the top TABLE_BITS bits of each hash."""
    return GAUSS_TABLE.take((h >> _S_TABLE).view(np.int64))
