"""The host's integer operations around a transformer's chip segments: their definition.

A diffusion transformer (models.dit) runs its token-wise matrix products on the chip;
between them the host runs layer norm with the conditioning's modulation (adaLN),
multi-head attention (scores, softmax, the weighted sum of values), the gated
residual adds and the fixed position table. As host_ops does for the Mixer, each
is exact integer arithmetic on int8 and int16 tensors from constants compiled once
in float, so the runtime, the golden model and the tests share one definition;
rounding is round half up (host_ops.round_div).

The residual stream (the gated adds' and the position table's output, adaLN's input)
stays on the host and is kept in RESIDUAL_BITS-bit integers: only what enters a
crossbar must be int8. Measured on a DiT trained 300 epochs (300 samples, the
judge's Frechet distance to the real digits): float 3.06, the ideal integer network
3.70 with an int8 residual and 3.02 with int16; the chip with its rank-8
compensation 4.05 and 3.33.

Everything that depends on the conditioning (class and step) is a table with one
row per (class, step) pair: a step looks its rows up with the batch's row indices.
"""

from dataclasses import dataclass

import numpy as np

from rmlora.sw.quant import quantize_multiplier

from .host_ops import clamp8, common_multipliers, isqrt, round_div, saturate, shift_round

__all__ = ["AdaLnQ", "compile_adaln", "adaln", "AttentionQ", "compile_attention", "attention",
           "GatedAddQ", "compile_gated_add", "gated_add", "TableAddQ", "compile_table_add",
           "table_add", "SOFTMAX_FRAC_BITS", "SOFTMAX_ONE_BITS", "RESIDUAL_BITS", "clamp_residual"]

SOFTMAX_FRAC_BITS = 5  # logits in steps of 1/32 (a weight's relative step at most 3 %)
SOFTMAX_RANGE = 16  # logits more than 16 below the row's largest weigh 0 (e**-16 < 2**-23)
SOFTMAX_ONE_BITS = 16  # exp(0) = 2**16 in the exponential table
RESIDUAL_DTYPE = np.int16  # the host's residual stream
RESIDUAL_BITS = np.iinfo(RESIDUAL_DTYPE).bits
RESIDUAL_MULT_BITS = 32  # multipliers of the steps that read or write the residual: a
# common shift spans an int16 residual's scale and an int8 branch's, 2**8 apart
ADALN_FRAC_BITS = 0  # fractional bits of adaLN's integer RMS (int16 input: 2**21 > |d|
# already resolves it; more would overflow int64 in the numerator)


def clamp_residual(v: np.ndarray) -> np.ndarray:
    return saturate(v, RESIDUAL_DTYPE)


@dataclass(frozen=True)
class AdaLnQ:
    """Layer norm without its own affine, then y = norm * (1 + scale) + shift with the
    conditioning row's scale and shift: y_q = norm * mult / 2**shift + offset / 2**shift."""

    mult: np.ndarray  # (rows, C) int64: (1 + scale) / out_scale * 2**shift
    offset: np.ndarray  # (rows, C) int64: shift_vector / out_scale * 2**shift
    shift: int
    eps_fixed: int  # eps * C**2 in (x_q units)**2, times 2**(2 * ADALN_FRAC_BITS)


def compile_adaln(scale: np.ndarray, shift: np.ndarray, in_scale: float, out_scale: float,
                  eps: float) -> AdaLnQ:
    """scale, shift: (rows, C) float, the conditioning's modulation for every row."""
    scale, shift = np.asarray(scale, np.float64), np.asarray(shift, np.float64)
    channels = scale.shape[-1]
    reals = np.concatenate([(1.0 + scale).ravel(), shift.ravel()]) / out_scale
    ints, bits = common_multipliers(reals, RESIDUAL_MULT_BITS)
    mult, offset = ints[:scale.size].reshape(scale.shape), ints[scale.size:].reshape(shift.shape)
    eps_fixed = round(eps * channels**2 / in_scale**2 * 2.0 ** (2 * ADALN_FRAC_BITS))
    return AdaLnQ(mult, offset, bits, max(1, eps_fixed))


def adaln(x_q: np.ndarray, rows: np.ndarray, q: AdaLnQ) -> np.ndarray:
    """Over the last axis of the residual x (B, tokens, C; int16), sample b with table
    row rows[b]; the output, a crossbar's input, is int8.

    With d = C * x - sum(x) (C times the deviation, exact), the norm is
    d / sqrt(sum(d**2) / C + eps * C**2); r = isqrt(sum(d**2) * 2**(2F) / C + eps_fixed)
    is its denominator with F fractional bits, and one rounding gives
    y_q = round((d * mult * 2**F + offset * r) / (r * 2**shift))."""
    x = np.asarray(x_q, dtype=np.int64)
    channels = x.shape[-1]
    d = channels * x - np.sum(x, axis=-1, keepdims=True)
    ss = np.sum(d * d, axis=-1, keepdims=True)
    r = isqrt((ss << (2 * ADALN_FRAC_BITS)) // channels + q.eps_fixed)
    mult, offset = q.mult[rows][:, None, :], q.offset[rows][:, None, :]
    num = ((d * mult) << ADALN_FRAC_BITS) + offset * r
    return clamp8(round_div(num, r << q.shift))


@dataclass(frozen=True)
class AttentionQ:
    """Multi-head self-attention over int8 q, k, v (one tensor, q | k | v along features,
    heads contiguous in each, all at the qkv layer's scale)."""

    heads: int
    logit_mult: int  # score * logit_mult / 2**logit_shift = logit * 2**SOFTMAX_FRAC_BITS
    logit_shift: int
    exp_table: np.ndarray  # int64: round(2**16 * exp(-t / 2**SOFTMAX_FRAC_BITS))
    out_mult: int  # qkv_scale / out_scale = out_mult / 2**out_shift
    out_shift: int


def compile_attention(heads: int, head_width: int, qkv_scale: float,
                      out_scale: float) -> AttentionQ:
    logit_mult, logit_shift = quantize_multiplier(
        qkv_scale**2 / np.sqrt(head_width) * 2.0**SOFTMAX_FRAC_BITS)
    t = np.arange(SOFTMAX_RANGE << SOFTMAX_FRAC_BITS, dtype=np.float64)
    table = np.floor(2.0**SOFTMAX_ONE_BITS * np.exp(-t / 2.0**SOFTMAX_FRAC_BITS) + 0.5)
    out_mult, out_shift = quantize_multiplier(qkv_scale / out_scale)
    return AttentionQ(heads, logit_mult, logit_shift, table.astype(np.int64), out_mult,
                      out_shift)


def attention(qkv_q: np.ndarray, q: AttentionQ) -> np.ndarray:
    """(B, tokens, 3 * C) int8 -> (B, tokens, C) int8: softmax(q k^T / sqrt(dh)) v per head.

    Logits are fixed point (SOFTMAX_FRAC_BITS); each row's weights are the exponential
    table at (row max - logit), so the largest is 2**16 and the sum is at least that,
    and one rounding gives out_q = round(sum_j e_j v_j * out_mult / (sum_j e_j *
    2**out_shift))."""
    x = np.asarray(qkv_q, dtype=np.int64)
    b, n, three_c = x.shape
    c = three_c // 3
    heads, dh = q.heads, c // q.heads
    qs, ks, vs = (x[..., i * c:(i + 1) * c].reshape(b, n, heads, dh).transpose(0, 2, 1, 3)
                  for i in range(3))
    logits = shift_round(np.einsum("bhid,bhjd->bhij", qs, ks) * q.logit_mult, q.logit_shift)
    below = np.minimum(logits.max(axis=-1, keepdims=True) - logits, len(q.exp_table) - 1)
    e = q.exp_table[below]
    num = np.einsum("bhij,bhjd->bhid", e, vs) * q.out_mult
    den = np.sum(e, axis=-1, keepdims=True) << q.out_shift
    out = clamp8(round_div(num, den))  # (B, heads, tokens, dh)
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3).reshape(b, n, c))


@dataclass(frozen=True)
class GatedAddQ:
    """The residual x plus the conditioning row's gate times a branch: y = x + gate * a
    (x and y int16 residuals, a a chip segment's int8 output)."""

    mult_x: int
    gate_mult: np.ndarray  # (rows, C) int64: gate * a_scale / out_scale * 2**shift
    shift: int


def compile_gated_add(gate: np.ndarray, x_scale: float, a_scale: float,
                      out_scale: float) -> GatedAddQ:
    gate = np.asarray(gate, np.float64)
    ints, shift = common_multipliers(
        np.concatenate([[x_scale / out_scale], gate.ravel() * a_scale / out_scale]),
        RESIDUAL_MULT_BITS)
    return GatedAddQ(int(ints[0]), ints[1:].reshape(gate.shape), shift)


def gated_add(x_q: np.ndarray, a_q: np.ndarray, rows: np.ndarray, q: GatedAddQ) -> np.ndarray:
    v = (np.asarray(x_q, dtype=np.int64) * q.mult_x
         + np.asarray(a_q, dtype=np.int64) * q.gate_mult[rows][:, None, :])
    return clamp_residual(shift_round(v, q.shift))


@dataclass(frozen=True)
class TableAddQ:
    """x plus a fixed (tokens, C) table, as the position embedding: y = x + table (x the
    embedding's int8 output, y the int16 residual)."""

    mult_x: int
    table: np.ndarray  # (tokens, C) int64: table / out_scale * 2**shift
    shift: int


def compile_table_add(table: np.ndarray, x_scale: float, out_scale: float) -> TableAddQ:
    table = np.asarray(table, np.float64)
    ints, shift = common_multipliers(np.concatenate([[x_scale / out_scale],
                                                      table.ravel() / out_scale]),
                                      RESIDUAL_MULT_BITS)
    return TableAddQ(int(ints[0]), ints[1:].reshape(table.shape), shift)


def table_add(x_q: np.ndarray, q: TableAddQ) -> np.ndarray:
    v = np.asarray(x_q, dtype=np.int64) * q.mult_x + q.table[None]
    return clamp_residual(shift_round(v, q.shift))
