"""Golden model of the crossbar controller: descriptor checks, write-verify
programming, bit-serial MVM and the exact cycle count, bit-exact with the RTL
(hw/xbar_controller.py) given macro models with the same seed.

Write-verify is vectorised over cells: every cell's noise is keyed by its own
pulse and verify counts, so running all cells in lock-step reproduces the RTL's
cell-by-cell order exactly. The MVM is batched over input vectors; each
conversion gets the operation index the RTL's run would give it.
"""

from dataclasses import dataclass

import numpy as np

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.xbar import (
    ACC_BITS,
    INPUT_BITS,
    NOT_CONVERGED_FLAG,
    XBAR_DESC_BITS,
    MacroOp,
    Polarity,
    XbarOp,
    ispp_amplitude,
)
from rmlora.sw.formats.xbar import Descriptor, ceil_div, check

from .macros import Macros

__all__ = ["Descriptor", "XbarCounts", "check", "program", "mvm", "mvm_cycles",
           "mvm_ops_per_macro"]



@dataclass
class XbarCounts:
    """The controller's performance counters for one or more commands."""

    cycles: int = 0
    adc: int = 0
    mvm: int = 0
    pulses: int = 0
    verify: int = 0



def _require(desc: Descriptor, params: ChipParams, op: XbarOp):
    """Refuse on the host what the chip would refuse, with the reason."""
    if desc.op is not op:
        raise ValueError(f"descriptor op is {desc.op.name}, expected {op.name}")
    code = check(desc, params)
    if code is not ErrorCode.NONE:
        raise ValueError(f"descriptor refused: {code.name}: {code.text} ({desc})")


def _prologue_cycles(params: ChipParams) -> int:
    """The descriptor's fetch (a word every other cycle), then CHECK_CODE and CHECK."""
    words = params.words_for(XBAR_DESC_BITS)
    return timing.fetch_cycles(words, timing.XBAR_FETCH_SPACING) + timing.xbar_check_cycles()


def program(desc: Descriptor, targets: np.ndarray, macros: Macros):
    """Write-verify one block. Returns (result bytes (n_rows, n_cols) uint8, failed, counts)."""
    p = macros.params
    _require(desc, p, XbarOp.PROGRAM)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (desc.n_rows, desc.n_cols):
        raise ValueError(f"targets shape {targets.shape} != ({desc.n_rows}, {desc.n_cols})")
    macro = macros[desc.macro]
    rows, cols = np.meshgrid(np.arange(desc.n_rows) + desc.row0,
                             np.arange(desc.n_cols) + desc.col0, indexing="ij")
    rows, cols, target = rows.ravel(), cols.ravel(), targets.ravel()
    pulses = np.zeros(rows.size, dtype=np.int64)
    result = np.zeros(rows.size, dtype=np.int64)
    active = np.ones(rows.size, dtype=bool)
    last_amp = np.zeros(rows.size, dtype=np.int64)
    last_pol = np.full(rows.size, -1, dtype=np.int64)  # -1: no pulse yet
    counts = XbarCounts()
    while active.any():
        idx = np.flatnonzero(active)
        code = np.asarray(macro.verify_read(rows[idx], cols[idx]), dtype=np.int64)
        counts.verify += idx.size
        error = code - target[idx]
        converged = np.abs(error) <= desc.tolerance
        gave_up = ~converged & (pulses[idx] == desc.max_pulses)
        result[idx[converged]] = pulses[idx[converged]]
        result[idx[gave_up]] = pulses[idx[gave_up]] | NOT_CONVERGED_FLAG
        active[idx[converged | gave_up]] = False
        go = ~(converged | gave_up)
        if go.any():
            cells = idx[go]
            pol = np.where(error[go] < 0, Polarity.SET.value, Polarity.RESET.value)
            amp = np.array([ispp_amplitude(desc.amplitude, None if lp < 0 else int(la), lp == p_)
                            for lp, la, p_ in zip(last_pol[cells], last_amp[cells], pol,
                                                  strict=True)], dtype=np.int64)
            for polarity in (Polarity.SET, Polarity.RESET):
                sel = pol == polarity.value
                if sel.any():
                    macros.pulse(desc.macro, rows[cells[sel]], cols[cells[sel]], polarity,
                                 amp[sel], desc.width)
            last_pol[cells], last_amp[cells] = pol, amp
            pulses[cells] += 1
            counts.pulses += cells.size
    n_verify = pulses + 1
    per_cell = (timing.PROGRAM_CELL_CYCLES
                + n_verify * (timing.macro_op_cycles(MacroOp.VERIFY) + timing.VERIFY_DECIDE_CYCLES)
                + pulses * timing.macro_op_cycles(MacroOp.PULSE))
    counts.cycles = _prologue_cycles(p) + int(per_cell.sum())
    failed = int(np.count_nonzero(result & NOT_CONVERGED_FLAG))
    return result.reshape(desc.n_rows, desc.n_cols).astype(np.uint8), failed, counts


def mvm_sram_reads(desc: Descriptor, params: ChipParams, fetch: bool = True) -> int:
    """SRAM words one MVM reads: its descriptor (unless `fetch` is off: a layer pass's
    later vectors reuse it), then each row tile's inputs (M_LOAD) once per column tile."""
    p, wb = params, params.sram_word_bytes
    loads = sum(ceil_div(min(p.macro_rows, desc.n_rows - rt * p.macro_rows), wb)
                for rt in range(ceil_div(desc.n_rows, p.macro_rows)))
    return p.words_for(XBAR_DESC_BITS) * fetch + ceil_div(desc.n_cols, p.macro_cols) * loads


def mvm_cycles(desc: Descriptor, params: ChipParams, stream_p: bool = False,
               fetch: bool = True) -> int:
    """Cycles of one MVM command, exactly as the RTL runs it; `stream_p`: results go
    out on the p stream (always ready) instead of into the SRAM; `fetch` off: started
    with `reuse` (a layer pass's later vector), the descriptor is only checked again."""
    p, wb = params, params.sram_word_bytes
    cycles = _prologue_cycles(p) if fetch else timing.xbar_check_cycles()
    for ct in range(ceil_div(desc.n_cols, p.macro_cols)):
        cols_in_tile = min(p.macro_cols, desc.n_cols - ct * p.macro_cols)
        cycles += timing.MVM_TILE_CYCLES
        for rt in range(ceil_div(desc.n_rows, p.macro_rows)):
            rows_in_tile = min(p.macro_rows, desc.n_rows - rt * p.macro_rows)
            cycles += timing.stream_read_cycles(ceil_div(rows_in_tile, wb))  # M_LOAD
            cycles += INPUT_BITS * desc.reads * timing.macro_op_cycles(MacroOp.MVM)
        # M_STREAM: a result a cycle; M_WRITE: a word a cycle
        cycles += cols_in_tile if stream_p else ceil_div(4 * cols_in_tile, wb)
    return cycles


assert ACC_BITS == 32, "mvm's uint32 accumulators are the RTL's ACC_BITS accumulators"


def mvm_ops_per_macro(desc: Descriptor, params: ChipParams) -> dict[int, int]:
    """Macro -> MVM operations (bit plane conversions: reads per plane each) one command
    makes on it."""
    n_rt = ceil_div(desc.n_rows, params.macro_rows)
    n_ct = ceil_div(desc.n_cols, params.macro_cols)
    return {desc.macro + rt * n_ct + ct: INPUT_BITS * desc.reads
            for rt in range(n_rt) for ct in range(n_ct)}


def mvm(desc: Descriptor, x: np.ndarray, macros: Macros, op_start: np.ndarray | None = None):
    """acc (B, n_cols) int32 of B int8 input vectors x (B, n_rows), one command each.

    op_start (B, n_macros): the operation index each command starts from on each
    macro (the index that keys read noise); by default the commands run in order
    from the macros' counters, which then advance as the RTL run's would. With an
    explicit op_start the counters are left alone (the caller owns the order).
    With desc.reads_log2 each plane is converted n = 2**reads_log2 times (plane p,
    read r is operation op_start + p * n + r, the RTL's issue order) and the summed
    codes weigh 2**(p + gain_shift - reads_log2): their mean.
    """
    p = macros.params
    _require(desc, p, XbarOp.MVM)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != desc.n_rows:
        raise ValueError(f"inputs shape {x.shape}: expected (batch, {desc.n_rows})")
    if x.min(initial=0) < -128 or x.max(initial=0) > 127:
        raise ValueError("inputs must be int8 (-128..127)")
    batch, reads = x.shape[0], desc.reads
    ops = INPUT_BITS * reads  # conversions of one command on each of its macros
    advance = op_start is None
    if advance:
        op_start = macros.mvm_ops[None, :] + np.arange(batch)[:, None] * ops
    x = x.astype(np.int64)
    R, C = p.macro_rows, p.macro_cols
    n_rt, n_ct = ceil_div(desc.n_rows, R), ceil_div(desc.n_cols, C)
    # The accumulators wrap at ACC_BITS = 32 bits as the RTL's do: uint32 arithmetic is
    # exactly that (mod 2**32), then read as two's complement.
    acc = np.zeros((batch, desc.n_cols), dtype=np.uint32)
    counts = XbarCounts()
    # the codes of a plane's reads are summed: each sum weighs 2**(plane + gain_shift) / n
    # (checked: reads_log2 <= gain_shift, so the mean is an exact shift)
    weight = np.ones(INPUT_BITS, dtype=np.uint32) << (np.arange(INPUT_BITS, dtype=np.uint32)
                                                      + np.uint32(desc.gain_shift
                                                                  - desc.reads_log2))
    for ct in range(n_ct):
        cols_in_tile = min(C, desc.n_cols - ct * C)
        for rt in range(n_rt):
            rows_in_tile = min(R, desc.n_rows - rt * R)
            macro = desc.macro + rt * n_ct + ct
            # Sign-magnitude bit-serial drive (contract.xbar): plane b, read r of command
            # k is conversion op_start[k] + b * reads + r on this macro.
            codes = macros[macro].mvm_bitserial(
                x[:, rt * R: rt * R + rows_in_tile], desc.row0, desc.col0, cols_in_tile,
                desc.gain_shift, op_start[:, macro], INPUT_BITS, reads)
            acc[:, ct * C: ct * C + cols_in_tile] += np.einsum("bpc,p->bc",
                                                               codes.view(np.uint32), weight)
            if advance:
                macros.mvm_ops[macro] += batch * ops
            counts.mvm += batch * ops
            counts.adc += batch * ops * cols_in_tile
    counts.cycles = batch * mvm_cycles(desc, p)
    return acc.view(np.int32), counts
