"""Golden model of the crossbar controller: descriptor checks, write-verify
programming, bit-serial MVM and the exact cycle count, bit-exact with the RTL
(hw/xbar_controller.py) given macro models with the same seed. A spike-mode MVM
(Descriptor.spikes) drives one plane, and refuses inputs other than 0 and 1.

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
           "mvm_ops_per_macro", "refused_inputs", "spike_refused_cycles",
           "spike_scan_words"]



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


def spike_scan_words(desc: Descriptor, params: ChipParams) -> int:
    """SRAM words a spike-mode MVM reads before its first tile (S_SCAN): its inputs
    beyond the first row tile; none for int8 inputs or a layer of one row tile."""
    p = params
    if not desc.spikes or desc.n_rows <= p.macro_rows:
        return 0
    return ceil_div(desc.n_rows, p.sram_word_bytes) - p.macro_rows // p.sram_word_bytes


def mvm_sram_reads(desc: Descriptor, params: ChipParams, fetch: bool = True) -> int:
    """SRAM words one MVM reads: its descriptor (unless `fetch` is off: a layer pass's
    later vectors reuse it), in spike mode the inputs beyond the first row tile (S_SCAN),
    then each row tile's inputs (M_LOAD) once per column tile."""
    p, wb = params, params.sram_word_bytes
    loads = sum(ceil_div(min(p.macro_rows, desc.n_rows - rt * p.macro_rows), wb)
                for rt in range(ceil_div(desc.n_rows, p.macro_rows)))
    return (p.words_for(XBAR_DESC_BITS) * fetch + spike_scan_words(desc, p)
            + ceil_div(desc.n_cols, p.macro_cols) * loads)


def _start_cycles(desc: Descriptor, params: ChipParams, fetch: bool) -> int:
    """From START to the first M_TILE: the descriptor's fetch (unless a `reuse` start)
    and checks, then in spike mode S_SCAN."""
    p = params
    cycles = _prologue_cycles(p) if fetch else timing.xbar_check_cycles()
    return cycles + timing.spike_scan_cycles(spike_scan_words(desc, p))


def mvm_cycles(desc: Descriptor, params: ChipParams, stream_p: bool = False,
               fetch: bool = True) -> int:
    """Cycles of one MVM command, exactly as the RTL runs it; `stream_p`: results go
    out on the p stream (always ready) instead of into the SRAM; `fetch` off: started
    with `reuse` (a layer pass's later vector), the descriptor is only checked again.
    Each row tile's planes (desc.planes: 8, or 1 in spike mode) are converted
    desc.reads times each."""
    p, wb = params, params.sram_word_bytes
    cycles = _start_cycles(desc, p, fetch)
    for ct in range(ceil_div(desc.n_cols, p.macro_cols)):
        cols_in_tile = min(p.macro_cols, desc.n_cols - ct * p.macro_cols)
        cycles += timing.MVM_TILE_CYCLES
        for rt in range(ceil_div(desc.n_rows, p.macro_rows)):
            rows_in_tile = min(p.macro_rows, desc.n_rows - rt * p.macro_rows)
            cycles += timing.stream_read_cycles(ceil_div(rows_in_tile, wb))  # M_LOAD
            cycles += desc.planes * desc.reads * timing.macro_op_cycles(MacroOp.MVM)
        # M_STREAM: a result a cycle; M_WRITE: a word a cycle
        cycles += cols_in_tile if stream_p else ceil_div(4 * cols_in_tile, wb)
    return cycles


def spike_refused_cycles(desc: Descriptor, params: ChipParams, fetch: bool = True) -> int:
    """Cycles of a spike-mode MVM refused for its inputs (XBAR_SPIKE_INPUT), wherever the
    bad input is: to the end of its first M_LOAD (S_SCAN, M_TILE, the first row tile's
    load)."""
    p = params
    first_tile = min(p.macro_rows, desc.n_rows)
    return (_start_cycles(desc, p, fetch) + timing.MVM_TILE_CYCLES
            + timing.stream_read_cycles(ceil_div(first_tile, p.sram_word_bytes)))


def refused_inputs(desc: Descriptor, x: np.ndarray) -> np.ndarray:
    """Which of the input vectors x (B, n_rows) an MVM refuses: in spike mode those with
    an input other than 0 and 1 (ErrorCode.XBAR_SPIKE_INPUT); none with int8 inputs."""
    x = np.asarray(x)
    if not desc.spikes:
        return np.zeros(len(x), dtype=bool)
    return ((x != 0) & (x != 1)).any(axis=1)


assert ACC_BITS == 32, "mvm's uint32 accumulators are the RTL's ACC_BITS accumulators"


def mvm_ops_per_macro(desc: Descriptor, params: ChipParams) -> dict[int, int]:
    """Macro -> MVM operations (bit plane conversions: reads per plane each) one command
    makes on it."""
    n_rt = ceil_div(desc.n_rows, params.macro_rows)
    n_ct = ceil_div(desc.n_cols, params.macro_cols)
    return {desc.macro + rt * n_ct + ct: desc.planes * desc.reads
            for rt in range(n_rt) for ct in range(n_ct)}


def mvm(desc: Descriptor, x: np.ndarray, macros: Macros, op_start: np.ndarray | None = None):
    """acc (B, n_cols) int32 of B int8 input vectors x (B, n_rows), one command each.

    op_start (B, n_macros): the operation index each command starts from on each
    macro (the index that keys read noise); by default the commands run in order
    from the macros' counters, which then advance as the RTL run's would. With an
    explicit op_start the counters are left alone (the caller owns the order).
    With desc.reads_log2 each plane is converted n = 2**reads_log2 times (plane p,
    read r is operation op_start + p * n + r, the RTL's issue order) and the summed
    codes weigh 2**(p + gain_shift - reads_log2): their mean. In spike mode plane 0
    alone is driven; an input other than 0 and 1 is refused (refused_inputs) as the RTL
    refuses it.
    """
    p = macros.params
    _require(desc, p, XbarOp.MVM)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != desc.n_rows:
        raise ValueError(f"inputs shape {x.shape}: expected (batch, {desc.n_rows})")
    if x.min(initial=0) < -128 or x.max(initial=0) > 127:
        raise ValueError("inputs must be int8 (-128..127)")
    refused = refused_inputs(desc, x)
    if refused.any():
        k = int(np.flatnonzero(refused)[0])
        j = int(np.flatnonzero((x[k] != 0) & (x[k] != 1))[0])
        code = ErrorCode.XBAR_SPIKE_INPUT
        raise ValueError(f"inputs refused: {code.name}: {code.text} (vector {k}, input {j} "
                         f"is {int(x[k, j])})")
    batch, reads, planes = x.shape[0], desc.reads, desc.planes
    ops = planes * reads  # conversions of one command on each of its macros
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
    weight = np.ones(planes, dtype=np.uint32) << (np.arange(planes, dtype=np.uint32)
                                                  + np.uint32(desc.gain_shift - desc.reads_log2))
    for ct in range(n_ct):
        cols_in_tile = min(C, desc.n_cols - ct * C)
        for rt in range(n_rt):
            rows_in_tile = min(R, desc.n_rows - rt * R)
            macro = desc.macro + rt * n_ct + ct
            # Sign-magnitude bit-serial drive (contract.xbar): plane b, read r of command
            # k is conversion op_start[k] + b * reads + r on this macro.
            codes = macros[macro].mvm_bitserial(
                x[:, rt * R: rt * R + rows_in_tile], desc.row0, desc.col0, cols_in_tile,
                desc.gain_shift, op_start[:, macro], planes, reads)
            acc[:, ct * C: ct * C + cols_in_tile] += np.einsum("bpc,p->bc",
                                                               codes.view(np.uint32), weight)
            if advance:
                macros.mvm_ops[macro] += batch * ops
            counts.mvm += batch * ops
            counts.adc += batch * ops * cols_in_tile
    counts.cycles = batch * mvm_cycles(desc, p)
    return acc.view(np.int32), counts
