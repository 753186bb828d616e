"""The bulk port: an AXI4 subordinate with bursts straight into the SRAM buffer.

Beside the AXI4-Lite control port (`s_axil`) the chip has an AXI4 port (`s_axi`)
whose address space is the SRAM buffer alone, from byte 0. One data beat is one
SRAM word (`bulk_beat_bytes`), so a beat is one SRAM access and the strobes are
the SRAM's byte enables. Only what a DMA engine needs is accepted: INCR bursts
of 1 to BULK_MAX_BEATS full-width beats from a word-aligned address. A burst is
checked whole at its address phase (`bulk_refusal`), so a refused burst writes
nothing; its answer is one error B, or arlen+1 error R beats with zero data.
"""

from amaranth.lib import enum

from .params import ChipParams
from .status import ErrorCode

__all__ = [
    "BULK_ADDR_WIDTH", "BULK_ID_WIDTH", "BULK_MAX_BEATS", "AXI_BOUNDARY_BYTES",
    "AxiBurst", "bulk_beat_bytes", "bulk_refusal",
]

BULK_ADDR_WIDTH = 32  # byte offsets into the SRAM buffer (at most SRAM_WINDOW_MAX)
BULK_ID_WIDTH = 4  # AWID/ARID, echoed on BID/RID
BULK_MAX_BEATS = 256  # AxLEN is 8 bits in AXI4 (ARM IHI 0022, A3.4.1)
AXI_BOUNDARY_BYTES = 4096  # a burst must not cross a 4 KiB boundary (ARM IHI 0022, A3.4.1)


class AxiBurst(enum.Enum, shape=2):
    """AxBURST encoding (ARM IHI 0022, A3.4.1); the bulk port takes INCR only."""

    FIXED = 0
    INCR = 1
    WRAP = 2


def bulk_beat_bytes(params: ChipParams) -> int:
    """Bytes per beat: the data width is the SRAM word, whatever the build's width."""
    return params.sram_word_bytes


def bulk_refusal(params: ChipParams, addr: int, beats: int, size: int,
                 burst: AxiBurst | int) -> ErrorCode:
    """Why the bulk port refuses a burst (ErrorCode.NONE: it does not).

    Checked in this order, the RTL's: burst type, beat size, alignment, 4 KiB
    boundary, end of the SRAM. `beats` is AxLEN + 1, `size` is AxSIZE (log2 bytes).
    """
    beat = bulk_beat_bytes(params)
    if AxiBurst(burst) is not AxiBurst.INCR:
        return ErrorCode.BULK_BURST_TYPE
    if 1 << size != beat:
        return ErrorCode.BULK_NARROW
    if addr % beat:
        return ErrorCode.BULK_MISALIGNED
    if addr % AXI_BOUNDARY_BYTES + beats * beat > AXI_BOUNDARY_BYTES:
        return ErrorCode.BULK_4K_CROSSING
    if addr + beats * beat > params.sram_bytes:
        return ErrorCode.BULK_RANGE
    return ErrorCode.NONE
