"""The crossbar controller's descriptor as the host sees it, and the rules the chip
checks it by (in the RTL's order), so the compiler refuses on the host what the chip
would refuse and the golden model refuses it the same way."""

from dataclasses import dataclass

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.packing import pack_fields
from rmlora.contract.xbar import INPUT_BITS, SPIKE_PLANES, XBAR_DESC_BITS, XbarDescriptor, XbarOp

__all__ = ["Descriptor", "check", "ceil_div", "macro_tiles"]


@dataclass(frozen=True)
class Descriptor:
    """Host-side view of a crossbar descriptor; packs with the contract's layout."""

    op: XbarOp
    n_rows: int
    n_cols: int
    src: int
    dst: int
    macro: int = 0
    row0: int = 0
    col0: int = 0
    gain_shift: int = 0
    tolerance: int = 1
    max_pulses: int = 60
    amplitude: int = 8  # ISPP start amplitude and pulse width: the macro model's reference
    width: int = 7  # write-verify converges in 5-20 pulses with these (sim/reram)
    reads_log2: int = 0  # MVM: each bit plane converted 2**reads_log2 times, averaged
    spikes: int = 0  # MVM: 1 = spike inputs (0 or 1), plane 0 alone driven and converted

    @property
    def reads(self) -> int:
        """Conversions per input bit plane (MVM)."""
        return 1 << self.reads_log2

    @property
    def planes(self) -> int:
        """Input bit planes an MVM drives and converts: INPUT_BITS, or one in spike mode."""
        return SPIKE_PLANES if self.spikes else INPUT_BITS

    def pack(self) -> bytes:
        """The descriptor's SRAM bytes; a field that does not fit its bits is refused."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return pack_fields(XbarDescriptor, fields, "descriptor field").to_bytes(
            XBAR_DESC_BITS // 8, "little")


def ceil_div(a, b):
    return -(-a // b)


def macro_tiles(n_in: int, n_out: int, params: ChipParams) -> int:
    """Whole macros a layer of n_in rows and n_out columns takes when it is larger than
    one (row tiles x column tiles: contract.xbar's macro + r * n_col_tiles + c)."""
    return ceil_div(n_in, params.macro_rows) * ceil_div(n_out, params.macro_cols)


def check(desc: Descriptor, params: ChipParams) -> ErrorCode:
    """The ErrorCode the RTL reports for this descriptor (NONE if it runs); same order."""
    p, wb = params, params.sram_word_bytes
    if desc.op not in (XbarOp.MVM, XbarOp.PROGRAM):
        return ErrorCode.XBAR_OPCODE
    if desc.n_rows == 0 or desc.n_cols == 0:
        return ErrorCode.XBAR_EMPTY
    mvm_op = desc.op is XbarOp.MVM
    n_rt, n_ct = ceil_div(desc.n_rows, p.macro_rows), ceil_div(desc.n_cols, p.macro_cols)
    fits_r = desc.row0 == 0 if mvm_op and n_rt > 1 else desc.row0 + desc.n_rows <= p.macro_rows
    fits_c = desc.col0 == 0 if mvm_op and n_ct > 1 else desc.col0 + desc.n_cols <= p.macro_cols
    if not (fits_r and fits_c):
        return ErrorCode.XBAR_TILE
    if mvm_op:
        ok = n_rt <= p.n_macros and n_ct <= p.n_macros and desc.macro + n_rt * n_ct <= p.n_macros
    else:
        ok = desc.macro < p.n_macros
    if not ok:
        return ErrorCode.XBAR_MACRO_RANGE
    if not mvm_op and desc.max_pulses == 0:
        return ErrorCode.XBAR_MAX_PULSES
    if mvm_op and desc.reads_log2 > desc.gain_shift:
        return ErrorCode.XBAR_READS
    cells = desc.n_rows * desc.n_cols
    src_bytes, dst_bytes = (desc.n_rows, 4 * desc.n_cols) if mvm_op else (cells, cells)
    if (desc.src + ceil_div(src_bytes, wb) > p.sram_depth
            or desc.dst + ceil_div(dst_bytes, wb) > p.sram_depth):
        return ErrorCode.XBAR_SRAM_RANGE
    return ErrorCode.NONE
