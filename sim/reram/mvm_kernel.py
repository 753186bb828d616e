"""The MVM's per-conversion arithmetic, compiled (numba).

numpy spent most of a batched MVM on temporaries: after the two float64 products of
the planes with G - G_ref and G**2, the noise hash, the table look-up, sqrt, rint and
the clip were each a pass over every (plane, column). Here each conversion's noise
and code are computed in one go, with the same correctly rounded operations in the
same order as the numpy formula, so the codes are bit-identical
(tests/sim/test_mvm.py keeps that formula and checks them against it). The sums are
exact whatever their order: integers on the grid, every partial sum < 2**53. numba
does not contract a * b + c into a fused multiply-add unless fastmath is on, and it
is off here.

Two entry points: `convert_planes` for planes as the crossbar controller sends them
(a cosimulation's transaction: one plane, the driven rows added one by one), and
`convert_bitserial` for a batch of signed vectors (the golden model: the planes are
built here and summed by BLAS per chunk). A plane that drives no row is not
converted (code 0: the macro gates its ADC; its noise would be multiplied by a zero
std anyway).
"""

import math

import numpy as np
from numba import njit

from . import counter_rng
from .counter_rng import GAUSS_TABLE, TABLE_BITS

__all__ = ["convert_planes", "convert_bitserial"]

_S_TABLE = np.uint64(64 - TABLE_BITS)
# the splitmix64 finaliser of counter_rng, the same source compiled for one uint64
_mix = njit(cache=True, nogil=True, inline="always")(counter_rng._mix)


@njit(cache=True, nogil=True, inline="always")
def _convert(n_cols, keys, op, rel, inv_lsb, adc_min, adc_max, table, s, v, out):
    """Codes of one plane into out[:n_cols], from s (the driven rows' signed sum of
    G - G_ref) and v (their sum of G**2); keys: the columns' noise keys."""
    for j in range(n_cols):
        val = s[j]
        if rel != 0.0:
            std = math.sqrt(v[j]) * rel
            val = val + table[_mix(keys[j] ^ op) >> _S_TABLE] * std
        # lsb is a power of two, so * (1 / lsb) is exactly / lsb
        code = np.rint(val * inv_lsb)
        out[j] = np.int32(min(max(code, adc_min), adc_max))


@njit(cache=True, nogil=True, inline="always")
def _add_row(g0, g1, r, col0, n_cols, sign, s, v):
    """Row r driven at sign (+-1.0): its cells into the plane's sums (exact)."""
    gi0, gi1 = g0[r, col0:col0 + n_cols], g1[r, col0:col0 + n_cols]
    for j in range(n_cols):
        s[j] += sign * gi0[j]
        v[j] += gi1[j]


@njit(cache=True, nogil=True)
def convert_planes(planes, row0, g0, g1, col0, n_cols, col_keys, ops, rel, inv_lsb, adc_min,
                   adc_max, table):
    """Codes (B, n_cols) int32 of B planes (B, n_rows) of -1/0/1 driving rows from
    row0, plane b keyed by ops[b]; the driven rows and the empty planes."""
    b_count, n_rows = planes.shape
    out = np.zeros((b_count, n_cols), dtype=np.int32)
    keys = col_keys[col0:col0 + n_cols].copy()
    s, v = np.empty(n_cols), np.empty(n_cols)
    driven, empty = 0, 0
    for b in range(b_count):
        s[:] = 0.0
        v[:] = 0.0
        n = 0
        for i in range(n_rows):
            if planes[b, i] != 0:
                _add_row(g0, g1, row0 + i, col0, n_cols, float(planes[b, i]), s, v)
                n += 1
        if n:
            _convert(n_cols, keys, ops[b], rel, inv_lsb, adc_min, adc_max, table, s, v,
                     out[b])
        else:
            empty += 1
        driven += n
    return out, driven, empty


CHUNK = 256  # vectors whose planes are summed in one BLAS product (about 1 MB each)


@njit(cache=True, nogil=True)
def convert_bitserial(x, bits, reads, row0, g0, g1, col0, n_cols, col_keys, op_start, rel,
                      inv_lsb, adc_min, adc_max, table):
    """Codes (B, bits, n_cols) int32 of B signed integer vectors x (B, n_rows) driven
    sign-magnitude, bit plane p of |x| at sign(x) (rmlora.contract.xbar), each plane
    converted `reads` times and its codes summed, read r of plane p of vector k keyed
    by op_start[k] + p * reads + r; the driven rows and the empty planes, counted once
    per conversion (an empty plane is `reads` empty operations).

    The planes' sums are two float64 products per chunk of vectors (BLAS: exact, see
    the module docstring), dense over the rows: faster than adding the driven rows
    one by one, which leaves the vector units idle. The reads of a plane share its
    sums: only the noise differs between them."""
    b_count, n_rows = x.shape
    out = np.zeros((b_count, bits, n_cols), dtype=np.int32)
    keys = col_keys[col0:col0 + n_cols].copy()
    a0 = np.ascontiguousarray(g0[row0:row0 + n_rows, col0:col0 + n_cols])
    a1 = np.ascontiguousarray(g1[row0:row0 + n_rows, col0:col0 + n_cols])
    signed = np.zeros((CHUNK * bits, n_rows))  # the chunk's driven planes: -1/0/1 per row
    driven_rows = np.zeros((CHUNK * bits, n_rows))  # their |value|
    plane_of = np.zeros(CHUNK * bits, dtype=np.int64)  # vector * bits + bit plane
    code = np.zeros(n_cols, dtype=np.int32)  # one read's codes
    driven, empty = 0, 0
    for c0 in range(0, b_count, CHUNK):
        nb, k = min(CHUNK, b_count - c0), 0
        for b in range(nb):
            for p in range(bits):
                n = 0
                for i in range(n_rows):
                    xi = np.int64(x[c0 + b, i])
                    bit = (abs(xi) >> p) & 1
                    driven_rows[k, i] = bit
                    signed[k, i] = bit if xi > 0 else -bit
                    n += bit
                if n:  # an empty plane is not converted: its codes stay 0
                    plane_of[k] = b * bits + p
                    driven += n
                    k += 1
                else:
                    empty += 1
        s = np.dot(signed[:k], a0)
        v = np.dot(driven_rows[:k], a1)
        for t in range(k):
            b, p = divmod(plane_of[t], bits)
            first = op_start[c0 + b] + np.uint64(p * reads)
            for r in range(reads):
                _convert(n_cols, keys, first + np.uint64(r), rel, inv_lsb, adc_min, adc_max,
                         table, s[t], v[t], code)
                out[c0 + b, p] += code
    return out, driven * reads, empty * reads


GAUSS = np.ascontiguousarray(GAUSS_TABLE)
