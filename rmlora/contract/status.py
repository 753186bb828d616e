"""Bus responses and error codes, shared by the RTL, the drivers and the C header."""

from amaranth.lib import enum

__all__ = ["AxiResp", "ErrorCode"]


class AxiResp(enum.Enum, shape=2):
    """AXI4 and AXI4-Lite BRESP/RRESP encoding (AMBA AXI and ACE spec, ARM IHI 0022, A3.4.4)."""

    OKAY = 0
    EXOKAY = 1  # exclusive access: never produced by rmlora (no exclusive accesses)
    SLVERR = 2  # the target was reached but refused the access
    DECERR = 3  # no target at that address


class ErrorCode(enum.Enum, shape=8):
    """Why the chip refused something; latched in ERR_CODE until CTRL.CLEAR_ERR.

    Codes are grouped by the block that raises them, in ranges of 16, so new codes
    of a block never renumber those of another.
    """

    NONE = 0x00
    # host bus (0x01-0x0f)
    BUS_UNMAPPED = 0x01  # no register or memory at that address (DECERR)
    BUS_MISALIGNED = 0x02  # address not a multiple of 4 (SLVERR)
    BUS_READ_ONLY = 0x03  # write to a read-only register (SLVERR)
    # crossbar controller: a descriptor it refused before touching any macro (0x10-0x1f)
    XBAR_OPCODE = 0x10  # op is neither MVM nor PROGRAM
    XBAR_EMPTY = 0x11  # zero rows or zero columns
    XBAR_TILE = 0x12  # rows/columns (with row0/col0) do not fit the macro tiles
    XBAR_MACRO_RANGE = 0x13  # the layer needs macros beyond the last one
    XBAR_SRAM_RANGE = 0x14  # descriptor, source or destination beyond the SRAM buffer
    XBAR_MAX_PULSES = 0x15  # PROGRAM with max_pulses = 0
    XBAR_BUSY = 0x16  # START while a command runs (the START is ignored)
    XBAR_READS = 0x17  # MVM with reads_log2 above gain_shift (the mean would not be exact)
    # a spike-mode MVM (spikes = 1) whose inputs hold a value other than 0 and 1: refused
    # after its inputs are read, before any macro operation or result
    XBAR_SPIKE_INPUT = 0x18
    # LoRA unit: a layer it refused before reading any adapter data (0x20-0x2f)
    LORA_SHAPE = 0x20  # n_in or n_out zero or above LORA_MAX_FEATURES, or a bad activation
    LORA_RANK_ZERO = 0x21  # an enabled slot's adapter has rank 0
    LORA_RANK_MAX = 0x22  # an enabled slot's adapter has a rank above LORA_MAX_RANK
    LORA_SRAM_RANGE = 0x23  # descriptor, adapter entry, A, B or LUT beyond the SRAM buffer
    LORA_BUSY = 0x24  # START while a layer runs (the START is ignored)
    # sequencer: a layer program it stopped (0x30-0x3f)
    # a record, its descriptors, dst, stats or a LIF layer's neuron state beyond the SRAM
    SEQ_SRAM_RANGE = 0x30
    SEQ_SHAPE = 0x31  # crossbar descriptor not an MVM, or its shape differs from the LoRA layer's
    SEQ_BUSY = 0x32  # START (or a host crossbar START) while a program runs (ignored)
    SEQ_VECTORS = 0x33  # a layer record with no vectors
    # a LIF layer whose membranes, spike counts and spikes (the pass's outputs) overlap:
    # what it wrote would depend on the order of the write-back's words (contract/neuron.py)
    SEQ_NEURON_OVERLAP = 0x34
    # bulk port (AXI4 bursts into the SRAM): a burst refused whole at its address phase
    # (0x40-0x4f); ERR_ADDR holds the burst's start address in the port's own space
    BULK_BURST_TYPE = 0x40  # a FIXED or WRAP burst (SLVERR)
    BULK_NARROW = 0x41  # AxSIZE smaller than the SRAM word (SLVERR)
    BULK_MISALIGNED = 0x42  # start address not a multiple of the SRAM word (SLVERR)
    BULK_4K_CROSSING = 0x43  # the burst crosses a 4 KiB boundary (SLVERR)
    BULK_RANGE = 0x44  # the burst runs past the end of the SRAM buffer (DECERR)

    @property
    def text(self) -> str:
        """What the code means, for host-side error messages and the C header."""
        return _TEXT[self]

    @property
    def axi_resp(self) -> AxiResp:
        """The AXI response that accompanies this error on the bus."""
        no_target = (ErrorCode.BUS_UNMAPPED, ErrorCode.BULK_RANGE)
        return AxiResp.DECERR if self in no_target else AxiResp.SLVERR


_TEXT = {
    ErrorCode.NONE: "no error",
    ErrorCode.BUS_UNMAPPED: "no register or memory at that address",
    ErrorCode.BUS_MISALIGNED: "address not a multiple of 4",
    ErrorCode.BUS_READ_ONLY: "write to a read-only register",
    ErrorCode.XBAR_OPCODE: "descriptor op is neither MVM nor PROGRAM",
    ErrorCode.XBAR_EMPTY: "descriptor has zero rows or zero columns",
    ErrorCode.XBAR_TILE: "rows/columns (with row0/col0) do not fit the macro tiles",
    ErrorCode.XBAR_MACRO_RANGE: "the layer needs macros beyond the last one",
    ErrorCode.XBAR_SRAM_RANGE: "descriptor, source or destination beyond the SRAM buffer",
    ErrorCode.XBAR_MAX_PULSES: "PROGRAM with max_pulses = 0",
    ErrorCode.XBAR_BUSY: "START while a command runs",
    ErrorCode.XBAR_READS: "MVM reads_log2 above gain_shift",
    ErrorCode.XBAR_SPIKE_INPUT: "spike-mode MVM input neither 0 nor 1",
    ErrorCode.LORA_SHAPE: "layer has zero or too many inputs/outputs, or a bad activation",
    ErrorCode.LORA_RANK_ZERO: "an enabled adapter has rank 0",
    ErrorCode.LORA_RANK_MAX: "an enabled adapter's rank is above the hardware maximum",
    ErrorCode.LORA_SRAM_RANGE: "descriptor, adapter entry, A, B or LUT beyond the SRAM buffer",
    ErrorCode.LORA_BUSY: "START while a layer runs",
    ErrorCode.SEQ_SRAM_RANGE: "layer record, its descriptors, dst, stats or neuron state beyond "
                              "the SRAM buffer",
    ErrorCode.SEQ_SHAPE: "crossbar descriptor not an MVM, or its shape is not the LoRA layer's",
    ErrorCode.SEQ_BUSY: "START while a layer program runs",
    ErrorCode.SEQ_VECTORS: "layer record with no vectors",
    ErrorCode.SEQ_NEURON_OVERLAP: "LIF layer's membranes, spike counts and spikes overlap",
    ErrorCode.BULK_BURST_TYPE: "bulk burst not INCR (FIXED or WRAP)",
    ErrorCode.BULK_NARROW: "bulk burst narrower than the SRAM word",
    ErrorCode.BULK_MISALIGNED: "bulk burst start not a multiple of the SRAM word",
    ErrorCode.BULK_4K_CROSSING: "bulk burst crosses a 4 KiB boundary",
    ErrorCode.BULK_RANGE: "bulk burst runs past the end of the SRAM buffer",
}
